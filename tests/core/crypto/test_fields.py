"""Encrypted fields through the ORM: round trips, no plaintext at rest, binding, misuse."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, CompileError, IntegrityError, StatementError
from sqlalchemy.orm import Session

from tests.core.crypto.models import Note, Person
from vaxport.core.crypto import (
    CryptoMisuseError,
    DecryptionError,
    InvalidFieldValueError,
    blind_match,
    seal_new,
    seal_values,
)
from vaxport.core.crypto.envelope import CLASS_SUBJECT, CLASS_TENANT, parse_header
from vaxport.core.crypto.fields import Pending
from vaxport.core.crypto.keyring import Keyring, KeySession
from vaxport.core.crypto.models import PURPOSE_DATA, PURPOSE_INDEX, DataKey, SubjectKey
from vaxport.core.db import Database, Rows, write_batch
from vaxport.core.ids import uuid7

PLAINTEXTS = {
    "given_name": "Amélie",
    "family_name": "Zyxwvutski",
    "phone": "+33612345678",
    "email": "amelie.zyxwvutski@example.org",
    "national_id": "ZX-99-887766",
    "birth_date": dt.date(1987, 3, 14),
    "address": {"line": "12 rue Quixotique", "city": "Lyonnaisville", "postcode": "69999"},
    "notes": "allergic to quinquinapenicillin",
}
NEEDLES = [
    b"Am\xc3\xa9lie",
    b"Zyxwvutski",
    b"612345678",
    b"amelie.zyxwvutski",
    b"887766",
    b"1987-03-14",
    b"Quixotique",
    b"Lyonnaisville",
    b"quinquinapenicillin",
]


async def _add(db: Database, tenant: uuid.UUID, **overrides: Any) -> uuid.UUID:
    values = {**PLAINTEXTS, **overrides}
    async with db.transaction(tenant_id=tenant) as uow:
        person = Person(tenant_id=tenant)
        for name, value in values.items():
            setattr(person, name, value)
        uow.session.add(person)
        await uow.session.flush()
        return person.id


def _bytes_at_rest(db_url: str) -> bytes:
    """The SQLite file (and WAL), or a pg_dump of the table's data."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        wal = Path(f"{path}-wal")
        return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    out = subprocess.run(
        [
            "pg_dump",
            "-h",
            url.host or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
            "-t",
            "crypto_test_people",
            "-t",
            "data_keys",
            "-t",
            "subject_keys",
            "--data-only",
            url.database or "",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert b"crypto_test_people" in out.stdout
    return out.stdout


async def test_every_kind_of_field_round_trips(people: Database, tenant: uuid.UUID) -> None:
    pid = await _add(people, tenant)
    async with people.read(tenant_id=tenant) as s:
        person = (await s.execute(select(Person).where(Person.id == pid))).scalar_one()
        for name, value in PLAINTEXTS.items():
            assert getattr(person, name) == value, name
        assert isinstance(person.birth_date, dt.date)


async def test_plaintext_is_readable_on_the_object_before_and_after_flush(
    people: Database, tenant: uuid.UUID
) -> None:
    async with people.transaction(tenant_id=tenant) as uow:
        person = Person(tenant_id=tenant)
        person.phone = "+33611111111"
        assert person.phone == "+33611111111"
        uow.session.add(person)
        await uow.session.flush()
        assert person.phone == "+33611111111"
        assert parse_header(person.__dict__["phone_enc"]).key_class == CLASS_TENANT
        person.phone = None
        await uow.session.flush()
        assert person.phone is None
        assert person.__dict__["phone_bidx"] is None


async def test_database_holds_no_plaintext_and_no_usable_key(
    people: Database, owner_db: Database, tenant: uuid.UUID, keyring: Keyring
) -> None:
    for _ in range(3):
        await _add(people, tenant, national_id=f"ZX-99-{uuid.uuid4().int % 10**6:06d}")
    async with owner_db.engine.connect() as conn:  # the owner sees past row-level security
        rows = (await conn.execute(text("SELECT * FROM crypto_test_people"))).all()
    dumped = repr(rows).encode()
    for needle in NEEDLES:
        assert needle not in dumped
    assert len(rows) == 3

    async with people.read(tenant_id=tenant) as s:  # caches the subject keys too
        assert all(p.notes for p in (await s.execute(select(Person))).scalars())
    if people.is_sqlite:
        await people.engine.dispose()  # checkpoint the WAL into the file
    blob = await asyncio.to_thread(_bytes_at_rest, owner_db.url)
    for needle in NEEDLES:
        assert needle not in blob, needle
    unwrapped = [v for _exp, v in keyring._cache.values() if isinstance(v, bytes)]
    assert len(unwrapped) == 5  # data key, index key, three subject keys
    for key in unwrapped:
        assert key not in blob


async def test_swapped_ciphertexts_fail_to_decrypt(people: Database, tenant: uuid.UUID) -> None:
    a = await _add(people, tenant, national_id="A1")
    b = await _add(people, tenant, national_id="B2")
    async with people.transaction(tenant_id=tenant) as uow:
        t = Person.__table__
        rows = {
            r.id: r
            for r in (await uow.session.execute(select(t.c.id, t.c.phone_enc, t.c.email_enc))).all()
        }
        await uow.session.execute(update(t).where(t.c.id == a).values(phone_enc=rows[b].phone_enc))
        # Same row, other column: bound to the field name, so it fails too.
        await uow.session.execute(update(t).where(t.c.id == b).values(email_enc=rows[b].phone_enc))
    async with people.read(tenant_id=tenant) as s:
        pa = (await s.execute(select(Person).where(Person.id == a))).scalar_one()
        pb = (await s.execute(select(Person).where(Person.id == b))).scalar_one()
        with pytest.raises(DecryptionError):
            _ = pa.phone
        with pytest.raises(DecryptionError):
            _ = pb.email
        assert pa.email == PLAINTEXTS["email"]  # untouched fields still read


async def test_ciphertext_of_another_tenant_fails(
    people: Database, owner_db: Database, tenant: uuid.UUID
) -> None:
    other = uuid.uuid4()
    a = await _add(people, tenant)
    b = await _add(people, other)
    t = Person.__table__
    async with owner_db.transaction() as uow:  # a DBA's copy across tenants
        enc = (await uow.session.execute(select(t.c.given_name_enc).where(t.c.id == b))).scalar()
        await uow.session.execute(update(t).where(t.c.id == a).values(given_name_enc=enc))
    async with people.read(tenant_id=tenant) as s:
        pa = (await s.execute(select(Person).where(Person.id == a))).scalar_one()
        with pytest.raises(DecryptionError):
            _ = pa.given_name


async def test_blind_index_lookup_finds_the_record(people: Database, tenant: uuid.UUID) -> None:
    pid = await _add(people, tenant)
    await _add(
        people, tenant, phone="+33699999999", email="x@y.org", national_id="Q1", family_name="Other"
    )
    async with people.read(tenant_id=tenant) as s:
        for column, kind, value in [
            (Person.phone_bidx, "phone", "+33 6 12 34 56 78"),
            (Person.email_bidx, "email", "  Amelie.Zyxwvutski@EXAMPLE.org "),
            (Person.national_id_bidx, "id_number", "zx 99 887766"),
            (Person.family_name_bidx, "text", "ZYXWVUTSKI"),
        ]:
            clause = await blind_match(s, column, tenant_id=tenant, kind=kind, value=value)
            found = (
                await s.execute(select(Person).where(Person.tenant_id == tenant, clause))
            ).all()
            assert [p.id for (p,) in found] == [pid], kind
        # Another tenant's index key gives another index: no cross-tenant match.
        clause = await blind_match(
            s, Person.phone_bidx, tenant_id=uuid.uuid4(), kind="phone", value="+33612345678"
        )
        assert (await s.execute(select(Person).where(clause))).first() is None


async def test_national_phone_uses_the_tenant_region(people: Database, tenant: uuid.UUID) -> None:
    from vaxport.core.crypto import blind, set_phone_region_resolver

    with pytest.raises(InvalidFieldValueError):  # national format, no region known
        await _add(people, tenant, phone="06 12 34 56 78")
    installed = blind._region_resolver  # the tenancy context's, when it is loaded
    set_phone_region_resolver(lambda t: "FR" if t == tenant else None)
    try:
        pid = await _add(people, tenant, phone="06 12 34 56 79", national_id="R1")
        async with people.read(tenant_id=tenant) as s:
            clause = await blind_match(
                s, Person.phone_bidx, tenant_id=tenant, kind="phone", value="+33612345679"
            )
            assert (await s.execute(select(Person.id).where(clause))).scalar() == pid
    finally:
        set_phone_region_resolver(installed)


async def test_unnormalisable_phone_fails_at_flush(people: Database, tenant: uuid.UUID) -> None:
    with pytest.raises(InvalidFieldValueError):
        await _add(people, tenant, phone="not a phone")
    async with people.read(tenant_id=tenant) as s:
        assert (await s.execute(select(Person))).first() is None


async def test_misuse_fails_loudly(people: Database, tenant: uuid.UUID) -> None:
    with pytest.raises(CryptoMisuseError):
        Person(tenant_id=tenant).birth_date = "1987-03-14"  # type: ignore[assignment]
    async with people.transaction(tenant_id=tenant) as uow:
        with pytest.raises(StatementError) as info:
            await uow.session.execute(
                insert(Person.__table__).values(id=uuid.uuid4(), tenant_id=tenant, phone_enc=b"+33")
            )
        assert isinstance(info.value.orig, CryptoMisuseError)
    async with people.read(tenant_id=tenant) as s:
        with pytest.raises(StatementError) as info:
            await s.execute(select(Person).where(Person.phone_bidx == b"+33612345678"))
        assert isinstance(info.value.orig, CryptoMisuseError)
    with pytest.raises((CompileError, ArgumentError)):
        async with people.transaction(tenant_id=tenant) as uow:
            await uow.session.execute(update(Person).values(phone="+33600000000"))
    pid = await _add(people, tenant)
    for stmt in (
        update(Person).where(Person.id == pid).values(tenant_id=uuid.uuid4()),
        update(Person.__table__).values(id=uuid.uuid4()),
        update(Note).values(person_id=pid),
    ):
        async with people.transaction(tenant_id=tenant) as uow:
            with pytest.raises(CryptoMisuseError, match="would detach"):
                await uow.session.execute(stmt)
    async with people.transaction(tenant_id=tenant) as uow:
        person = await uow.session.get(Person, pid)
        assert person is not None
        person.tenant_id = uuid.uuid4()
        with pytest.raises(CryptoMisuseError, match="tenant_id changed"):
            await uow.session.flush()
        await uow.session.rollback()
    with pytest.raises(CryptoMisuseError):
        async with people.transaction(tenant_id=tenant) as uow:
            uow.session.add(Note(tenant_id=tenant, body="no subject"))


async def test_orm_bulk_insert_and_update_seal_plaintext(
    people: Database, owner_db: Database, tenant: uuid.UUID
) -> None:
    async with people.transaction(tenant_id=tenant) as uow:
        await uow.session.execute(
            insert(Person),
            [
                {"tenant_id": tenant, "phone": f"+3361234560{i}", "national_id": f"B{i}"}
                for i in range(5)
            ],
        )
    async with people.transaction(tenant_id=tenant) as uow:
        ids = (await uow.session.execute(select(Person.id).order_by(Person.id))).scalars().all()
        # The tenant comes from the row itself; changing it in the same breath is refused.
        await uow.session.execute(update(Person), [{"id": ids[0], "email": "bulk@example.org"}])
        with pytest.raises(CryptoMisuseError, match="may not change"):
            await uow.session.execute(
                update(Person), [{"id": ids[1], "tenant_id": uuid.uuid4(), "email": "x@y.org"}]
            )
    async with people.read(tenant_id=tenant) as s:
        rows = (await s.execute(select(Person).order_by(Person.id))).scalars().all()
        assert sorted(p.national_id for p in rows) == [f"B{i}" for i in range(5)]
        assert rows[0].email == "bulk@example.org"
        clause = await blind_match(
            s, Person.phone_bidx, tenant_id=tenant, kind="phone", value="+33612345603"
        )
        assert (await s.execute(select(Person.id).where(clause))).scalar() is not None
    async with owner_db.engine.connect() as conn:
        raw = repr((await conn.execute(text("SELECT * FROM crypto_test_people"))).all())
    assert "bulk@example.org" not in raw
    assert "612345603" not in raw


async def test_subject_fields_use_the_subjects_own_key(people: Database, tenant: uuid.UUID) -> None:
    pid = await _add(people, tenant)
    async with people.transaction(tenant_id=tenant) as uow:
        uow.session.add(Note(tenant_id=tenant, person_id=pid, body="second dose deferred"))
    async with people.read(tenant_id=tenant) as s:
        person = (await s.execute(select(Person).where(Person.id == pid))).scalar_one()
        note = (await s.execute(select(Note))).scalar_one()
        assert parse_header(person.__dict__["notes_enc"]).key_class == CLASS_SUBJECT
        assert person.notes == PLAINTEXTS["notes"]
        assert note.body == "second dose deferred"
        assert person.phone == PLAINTEXTS["phone"]


async def test_a_new_subject_gets_its_key_without_a_lookup_and_an_old_one_keeps_its_own(
    people: Database, tenant: uuid.UUID, keyring: Keyring
) -> None:
    await _add(people, tenant)  # the tenant's data and index keys exist from here on
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()).upper())

    engine = people.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        pid = await _add(people, tenant, national_id="ZX-11-223344")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    # One INSERT of the new person's key, no lookup of it first.
    assert [s for s in statements if "SUBJECT_KEYS" in s and s.startswith("SELECT")] == []
    assert sum(s.startswith("INSERT INTO SUBJECT_KEYS") for s in statements) == 1

    # Told "fresh" for a subject that has a key (not cached here), the keyring still
    # answers the stored key and creates no second one.
    keyring.forget()
    async with people.transaction(tenant_id=tenant) as uow:
        fresh = await uow.session.run_sync(
            lambda s: keyring.subject_key(s, tenant, pid, fresh=True)
        )
    keyring.forget()
    async with people.transaction(tenant_id=tenant) as uow:
        stored = await uow.session.run_sync(lambda s: keyring.subject_key(s, tenant, pid))
        count = await uow.session.scalar(
            select(func.count()).select_from(SubjectKey).where(SubjectKey.subject_id == pid)
        )
    assert fresh == stored
    assert count == 1
    async with people.read(tenant_id=tenant) as s:
        person = (await s.execute(select(Person).where(Person.id == pid))).scalar_one()
        assert person.notes == PLAINTEXTS["notes"]


async def test_a_row_sealed_from_plain_values_reads_back_as_the_orm_would_have_written_it(
    people: Database, tenant: uuid.UUID
) -> None:
    """``seal_values`` (a new row for ``write_batch``, no ORM object) writes what a flush
    would: fields that open on read, the subject's own key, blind indexes that match."""
    pid = uuid7()
    values = {"id": pid, "tenant_id": tenant, "status": "active", **PLAINTEXTS, "email": None}
    async with people.transaction(tenant_id=tenant) as uow:
        sealed = await uow.run_sync(lambda s: seal_values(s, Person, values))
        await write_batch(uow, [Rows(Person.__table__, [sealed])])  # type: ignore[arg-type]
    assert not set(PLAINTEXTS) & set(sealed)
    assert sealed["email_enc"] is None
    assert sealed["email_bidx"] is None
    assert parse_header(sealed["notes_enc"]).key_class == CLASS_SUBJECT
    assert parse_header(sealed["phone_enc"]).key_class == CLASS_TENANT
    async with people.read(tenant_id=tenant) as s:
        person = (await s.execute(select(Person).where(Person.id == pid))).scalar_one()
        for name, value in {**PLAINTEXTS, "email": None}.items():
            assert getattr(person, name) == value, name
        clause = await blind_match(
            s, Person.phone_bidx, tenant_id=tenant, kind="phone", value="+33 6 12 34 56 78"
        )
        assert (await s.execute(select(Person.id).where(clause))).scalar() == pid
    # The same ID number through the ORM meets the plain row's blind index: one person.
    with pytest.raises(IntegrityError):
        await _add(people, tenant, national_id=PLAINTEXTS["national_id"])


async def test_a_unit_of_work_seals_without_an_orm_session_and_keeps_every_guarantee(
    people: Database, tenant: uuid.UUID, keyring: Keyring
) -> None:
    """``uow.run_sync`` gives the keyring the transaction itself (no ORM session when the
    use case has none): keys it must create are created in the transaction, commit or
    roll back with the rows, and reach no cache before they are committed; objects sealed
    in a rolled-back transaction get their plaintext back; warm caches send nothing."""
    on_pg = people.is_postgres

    def person(pid: uuid.UUID) -> dict[str, Any]:
        return {
            "id": pid,
            "tenant_id": tenant,
            "status": "active",
            **PLAINTEXTS,
            "national_id": f"ZX-{pid.int % 10**6:06d}",
        }

    async def tenant_keys() -> int:
        async with people.read(tenant_id=tenant) as s:
            return int(
                await s.scalar(
                    select(func.count()).select_from(DataKey).where(DataKey.tenant_id == tenant)
                )
                or 0
            )

    async def rolled_back(lost: uuid.UUID, note: Note) -> None:
        async with people.transaction(tenant_id=tenant) as uow:
            assert await uow.run_sync(lambda s: isinstance(s, Session)) is not on_pg
            sealed = await uow.run_sync(lambda s: seal_values(s, Person, person(lost)))
            await write_batch(uow, [Rows(Person.__table__, [sealed])])  # type: ignore[arg-type]
            note.person_id = lost
            await uow.run_sync(lambda s: seal_new(s, note))
            assert note.__dict__["body_enc"] is not None
            raise RuntimeError("rolled back")

    # A new tenant: its first data and index keys and the person's key are made in the
    # transaction, on a connection asked for then; the rollback takes all with it.
    lost, note = uuid7(), Note(id=uuid7(), tenant_id=tenant, body="first dose deferred")
    with pytest.raises(RuntimeError):
        await rolled_back(lost, note)
    assert await tenant_keys() == 0
    assert keyring.peek(people.engine.sync_engine, ("key", tenant, PURPOSE_DATA, 1)) is None
    assert isinstance(note.__dict__["body_enc"], Pending)  # sealed again on a retry

    pid = uuid7()
    async with people.transaction(tenant_id=tenant) as uow:
        sealed = await uow.run_sync(lambda s: seal_values(s, Person, person(pid)))
        await write_batch(uow, [Rows(Person.__table__, [sealed])])  # type: ignore[arg-type]
        note.person_id = pid
        await uow.run_sync(lambda s: seal_new(s, note))
        uow.session.add(note)
    assert await tenant_keys() == 2

    # Warm caches: a new person's rows are sealed without a statement, and an ORM session
    # made later in the same transaction seals under the key made before it (no lookup,
    # no second key).
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()).upper())

    async with people.transaction(tenant_id=tenant) as uow:  # the keys read (cached) once

        def warm(s: KeySession) -> None:
            keyring.active(s, tenant, PURPOSE_DATA)
            keyring.active(s, tenant, PURPOSE_INDEX)
            keyring.live(s, tenant, PURPOSE_INDEX)

        await uow.run_sync(warm)
    engine = people.engine.sync_engine
    new = uuid7()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        async with people.transaction(tenant_id=tenant) as uow:
            keys = await uow.run_sync(lambda s: keyring.new_subject_keys(s, tenant, [new]))
            sealed = await uow.run_sync(lambda s: seal_values(s, Person, person(new)))
            sent = list(statements)
            await write_batch(
                uow,
                [Rows(SubjectKey.__table__, keys), Rows(Person.__table__, [sealed])],  # type: ignore[arg-type]
            )
            uow.session.add(Note(tenant_id=tenant, person_id=new, body="booked"))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    if on_pg:
        assert sent == []
    assert not [s for s in statements if "SUBJECT_KEYS" in s and s.startswith("SELECT")]
    async with people.read(tenant_id=tenant) as s:
        for who in (pid, new):
            row = (await s.execute(select(Person).where(Person.id == who))).scalar_one()
            assert row.notes == PLAINTEXTS["notes"]
        bodies = (await s.execute(select(Note).order_by(Note.id))).scalars().all()
        assert [n.body for n in bodies] == ["first dose deferred", "booked"]
        assert (
            await s.scalar(
                select(func.count()).select_from(SubjectKey).where(SubjectKey.tenant_id == tenant)
            )
            == 2
        )
