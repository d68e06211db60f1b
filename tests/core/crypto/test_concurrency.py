"""Uniqueness by blind index under real concurrent transactions; erasure; savepoint retries."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from tests.core.crypto.models import Note, Person
from vaxport.core.crypto import SubjectKeyDestroyedError, blind_match, erase_subject
from vaxport.core.crypto.keyring import Keyring
from vaxport.core.db import Database


async def _register(db: Database, tenant: uuid.UUID, national_id: str) -> bool:
    try:
        async with db.transaction(tenant_id=tenant) as uow:
            person = Person(tenant_id=tenant)
            person.given_name = "Concurrent"
            person.national_id = national_id
            uow.session.add(person)
    except IntegrityError:
        return False
    return True


async def test_unique_blind_index_admits_one_of_ten_concurrent_registrations(
    people: Database, tenant: uuid.UUID
) -> None:
    # Spellings differ, the normalised ID number is the same: exactly one may win, even
    # for the very first registration of the tenant (its keys are created on the way).
    spellings = [
        f"{'ab' if i % 2 else 'AB'}-12{'.' if i % 3 else ' '}345 {i % 1}" for i in range(10)
    ]
    results = await asyncio.gather(*(_register(people, tenant, s) for s in spellings))
    assert sum(results) == 1
    async with people.read(tenant_id=tenant) as s:
        rows = (await s.execute(select(Person))).scalars().all()
        assert len(rows) == 1
        assert rows[0].national_id in spellings
        assert (
            await s.execute(text("SELECT count(*) FROM data_keys WHERE purpose = 'data'"))
        ).scalar() == 1


async def test_concurrent_first_writes_of_a_new_tenant_all_succeed_under_one_key(
    people: Database, tenant: uuid.UUID
) -> None:
    # Each transaction looks for the tenant's active key, finds none, and races to create
    # it: the losers must use the winner's key, not fail.
    results = await asyncio.gather(*(_register(people, tenant, f"ID-{i}") for i in range(8)))
    assert all(results)
    async with people.read(tenant_id=tenant) as s:
        assert len((await s.execute(select(Person))).scalars().all()) == 8
        assert (
            await s.execute(text("SELECT count(*) FROM data_keys WHERE purpose = 'data'"))
        ).scalar() == 1


async def test_a_key_created_by_another_transaction_after_our_lookup_is_used(
    people: Database, tenant: uuid.UUID, keyring: Keyring
) -> None:
    # The interleaving above made deterministic: our look for an active key found none,
    # then another transaction committed one before we went to create it.
    assert await _register(people, tenant, "ID-first")
    async with people.transaction(tenant_id=tenant) as uow:
        found = await uow.session.run_sync(lambda s: keyring._create_first(s, tenant, "data"))
    assert found is not None
    assert found[0] == 1


async def test_a_failed_savepoint_does_not_leave_data_under_a_vanished_key(
    people: Database, tenant: uuid.UUID
) -> None:
    await _register(people, tenant, "DUP-1")
    other = uuid.uuid4()  # a tenant without keys: its first key is created in the savepoint
    async with people.transaction(tenant_id=other) as uow:
        person = Person(tenant_id=other)
        person.given_name = "Retry"
        person.national_id = "DUP-1"
        duplicate = Person(tenant_id=other)
        duplicate.national_id = "DUP-1"
        with pytest.raises(IntegrityError):
            async with uow.session.begin_nested():
                uow.session.add_all([person, duplicate])
        uow.session.add(person)  # retry the first one alone, outside the savepoint
    async with people.read(tenant_id=other) as s:
        got = (await s.execute(select(Person).where(Person.tenant_id == other))).scalar_one()
        assert got.given_name == "Retry"
        assert got.national_id == "DUP-1"


async def test_erasing_a_subject_destroys_their_key_and_fields(
    people: Database, tenant: uuid.UUID
) -> None:
    ids = []
    for n in ("E1", "E2"):
        async with people.transaction(tenant_id=tenant) as uow:
            person = Person(tenant_id=tenant)
            person.national_id = n
            person.notes = f"notes of {n}"
            uow.session.add(person)
            await uow.session.flush()
            uow.session.add(Note(tenant_id=tenant, person_id=person.id, body=f"note {n}"))
            ids.append(person.id)
    gone, kept = ids
    async with people.read(tenant_id=tenant) as s:
        stolen = (
            await s.execute(select(Note.__table__.c.body_enc).where(Note.person_id == gone))
        ).scalar()
    async with people.transaction(tenant_id=tenant) as uow:
        cleared = await erase_subject(uow.session, tenant_id=tenant, subject_id=gone)
        assert cleared == 2  # the person's notes field and their one note
    async with people.read(tenant_id=tenant) as s:
        person = await s.get(Person, gone)
        assert person is not None
        assert person.notes is None
        assert person.national_id == "E1"  # tenant-keyed fields are the context's choice
        survivor = (await s.execute(select(Note).where(Note.person_id == kept))).scalar_one()
        assert survivor.body == "note E2"
        assert (await s.execute(text("SELECT count(*) FROM subject_keys"))).scalar() == 1
    # A copy of the ciphertext taken before the erasure (a dump, an export) is now useless.
    async with people.transaction(tenant_id=tenant) as uow:
        await uow.session.execute(
            Note.__table__.update().where(Note.person_id == gone).values(body_enc=stolen)
        )
    async with people.read(tenant_id=tenant) as s:
        note = (await s.execute(select(Note).where(Note.person_id == gone))).scalar_one()
        with pytest.raises(SubjectKeyDestroyedError):
            _ = note.body
        clause = await blind_match(
            s, Person.national_id_bidx, tenant_id=tenant, kind="id_number", value="E2"
        )
        assert (await s.execute(select(Person.id).where(clause))).scalar() == kept
