"""Rotation: data keys, resumable re-encryption, retirement, index keys, the KEK."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tests.core.crypto.models import Note, Person
from tests.support.parts import METADATA
from vaxport.core.audit.models import AuditEntry
from vaxport.core.crypto import RetireRefusedError, blind_match, set_keyring
from vaxport.core.crypto.envelope import parse_header
from vaxport.core.crypto.kek import rotate_kek
from vaxport.core.crypto.keyring import Keyring
from vaxport.core.crypto.providers import LocalKeyFileProvider
from vaxport.core.crypto.reencrypt import reencrypt, rotate_index
from vaxport.core.crypto.rotation import key_versions, retire, rotate, usage
from vaxport.core.db import Database


async def _populate(db: Database, tenant: uuid.UUID, n: int) -> list[uuid.UUID]:
    ids = []
    async with db.transaction(tenant_id=tenant) as uow:
        for i in range(n):
            p = Person(tenant_id=tenant)
            p.given_name = f"name {i}"
            p.phone = f"+3361234{i:04d}"
            p.national_id = f"ID-{i}"
            p.notes = f"notes {i}"
            uow.session.add(p)
            await uow.session.flush()
            uow.session.add(Note(tenant_id=tenant, person_id=p.id, body=f"note {i}"))
            ids.append(p.id)
    return ids


async def _assert_all_readable(db: Database, tenant: uuid.UUID, n: int) -> None:
    async with db.read(tenant_id=tenant) as s:
        people = (await s.execute(select(Person).where(Person.tenant_id == tenant))).scalars().all()
        assert sorted(p.national_id or "" for p in people) == sorted(f"ID-{i}" for i in range(n))
        assert all(p.notes and p.given_name and p.phone for p in people)
        notes = (await s.execute(select(Note).where(Note.tenant_id == tenant))).scalars().all()
        assert len(notes) == n
        assert all(note.body for note in notes)


async def _versions(db: Database, tenant: uuid.UUID) -> set[int]:
    async with db.read(tenant_id=tenant) as s:
        t = Person.__table__
        raws = (await s.execute(select(t.c.given_name_enc, t.c.phone_enc))).all()
    return {parse_header(r).key_version for row in raws for r in row}


async def test_rotate_reencrypt_retire(
    people: Database, tenant: uuid.UUID, keyring: Keyring
) -> None:
    keyring.cache_seconds = 0  # no replica can be writing with a stale key version
    await _populate(people, tenant, 7)
    assert await rotate(people, tenant_id=tenant) == 2
    await _populate_more(people, tenant)
    assert await _versions(people, tenant) == {1, 2}  # new writes use version 2 at once

    with pytest.raises(RetireRefusedError, match=r"values still use old data key versions"):
        await retire(people, tenant_id=tenant)

    result = await reencrypt(people, tenant_id=tenant, batch=3)
    assert result.complete
    assert result.updated == 7 + 7  # people rows + subject keys re-wrapped
    assert await _versions(people, tenant) == {2}
    assert await retire(people, tenant_id=tenant) == [1]
    states = {
        (v["purpose"], v["version"]): v["state"]
        for v in await key_versions(people, tenant_id=tenant)
    }
    assert states[("data", 1)] == "retired"
    assert states[("data", 2)] == "active"
    await _assert_all_readable(people, tenant, 8)
    assert (await usage(people, tenant_id=tenant))["subject_keys"] == {2: 8}
    async with people.read(tenant_id=tenant) as s:
        acts = (
            (
                await s.execute(
                    select(AuditEntry.action)
                    .where(AuditEntry.tenant_id == tenant)
                    .order_by(AuditEntry.txn_seq)
                )
            )
            .scalars()
            .all()
        )
    assert acts == ["keys.rotate", "keys.reencrypt", "keys.retire"]


async def _populate_more(db: Database, tenant: uuid.UUID) -> None:
    async with db.transaction(tenant_id=tenant) as uow:
        p = Person(tenant_id=tenant)
        p.given_name = "after rotation"
        p.phone = "+33699990000"
        p.national_id = "ID-7"
        p.notes = "notes 7"
        uow.session.add(p)
        await uow.session.flush()
        uow.session.add(Note(tenant_id=tenant, person_id=p.id, body="note 7"))


async def test_interrupted_reencrypt_resumes(
    people: Database, tenant: uuid.UUID, keyring: Keyring
) -> None:
    keyring.cache_seconds = 0
    await _populate(people, tenant, 10)
    await rotate(people, tenant_id=tenant)
    first = await reencrypt(people, tenant_id=tenant, batch=4, max_batches=1)
    assert not first.complete
    assert first.updated == 4
    assert await _versions(people, tenant) == {1, 2}
    with pytest.raises(RetireRefusedError, match=r"crypto_test_people.phone v1: 6,"):
        await retire(people, tenant_id=tenant)
    second = await reencrypt(people, tenant_id=tenant, batch=4)
    assert second.complete
    assert second.updated == 6 + 10
    assert await _versions(people, tenant) == {2}
    assert await retire(people, tenant_id=tenant) == [1]
    await _assert_all_readable(people, tenant, 10)


async def test_retire_waits_for_other_replicas_caches(
    people: Database, tenant: uuid.UUID, keyring: Keyring
) -> None:
    keyring.cache_seconds = 3600
    await _populate(people, tenant, 1)
    await rotate(people, tenant_id=tenant)
    await reencrypt(people, tenant_id=tenant)
    with pytest.raises(RetireRefusedError, match="may still write"):
        await retire(people, tenant_id=tenant)


async def test_rotate_index_rebuilds_blind_indexes(
    people: Database, tenant: uuid.UUID, keyring: Keyring
) -> None:
    keyring.cache_seconds = 0
    ids = await _populate(people, tenant, 6)

    async def find(national_id: str) -> uuid.UUID | None:
        async with people.read(tenant_id=tenant) as s:
            clause = await blind_match(
                s, Person.national_id_bidx, tenant_id=tenant, kind="id_number", value=national_id
            )
            return (await s.execute(select(Person.id).where(clause))).scalar()

    partial = await rotate_index(people, tenant_id=tenant, batch=4, max_batches=1)
    assert not partial.complete
    # Mid-rebuild, rows on either index key are found...
    assert [await find(f"ID-{i}") for i in range(6)] == ids
    # ...and a duplicate of a row not rebuilt yet is refused like the unique index would.
    for national_id in ("ID-5", "id 0"):
        async with people.transaction(tenant_id=tenant) as uow:
            dup = Person(tenant_id=tenant)
            dup.national_id = national_id
            uow.session.add(dup)
            with pytest.raises(IntegrityError):
                await uow.session.flush()
            await uow.session.rollback()
    done = await rotate_index(people, tenant_id=tenant, batch=4)
    assert done.complete
    versions = {
        (v["purpose"], v["version"]): v["state"]
        for v in await key_versions(people, tenant_id=tenant)
    }
    assert versions[("index", 1)] == "retired"
    assert versions[("index", 2)] == "active"
    assert [await find(f"ID-{i}") for i in range(6)] == ids
    async with people.read(tenant_id=tenant) as s:
        bidx = (await s.execute(select(Person.__table__.c.national_id_bidx))).scalars().all()
    assert {b[:2] for b in bidx} == {b"\x00\x02"}


async def test_rotate_kek_rewraps_every_data_key(
    people: Database, tenant: uuid.UUID, keyring: Keyring, tmp_path: Path
) -> None:
    await _populate(people, tenant, 3)
    await _populate(people, uuid.uuid4(), 2)
    provider = keyring.provider
    assert isinstance(provider, LocalKeyFileProvider)
    old_kek = provider.current_kek_id()
    partial = await rotate_kek(people, metadata=METADATA, batch=1, max_batches=1)
    assert not partial.complete
    doc = json.loads(provider.path.read_text())
    assert [k["version"] for k in doc["keys"]] == [1, 2]  # old KEK kept until re-wrap ends
    done = await rotate_kek(people, metadata=METADATA, batch=1)
    assert done.complete
    doc = json.loads(provider.path.read_text())
    assert [k["version"] for k in doc["keys"]] == [2]
    assert provider.path.stat().st_mode & 0o777 == 0o600
    async with people.read() as s:
        from vaxport.core.crypto.models import DataKey

        kek_ids = set((await s.execute(select(DataKey.provider_key_id))).scalars())
    assert kek_ids == {provider.current_kek_id()} != {old_kek}
    # A fresh process (empty cache, file read anew) still reads everything.
    set_keyring(Keyring(LocalKeyFileProvider(provider.path)))
    await _assert_all_readable(people, tenant, 3)


_JOB = """
import asyncio, sys, time
from pathlib import Path
from tests.core.crypto.models import _SPECS
from vaxport.core.crypto import set_keyring
from vaxport.core.crypto.fields import _registry
from vaxport.core.crypto.keyring import Keyring
from vaxport.core.crypto.providers import LocalKeyFileProvider
from vaxport.core.crypto.reencrypt import reencrypt
from vaxport.core.db import Database
import uuid

_registry.update(_SPECS)
set_keyring(Keyring(LocalKeyFileProvider(Path(sys.argv[2])), cache_seconds=0))

def echo(msg):
    print("PROGRESS", msg, flush=True)
    time.sleep(0.3)  # slow enough to be killed mid-job

async def main():
    db = Database(sys.argv[1])
    await reencrypt(db, tenant_id=uuid.UUID(sys.argv[3]), batch=1, echo=echo)

asyncio.run(main())
"""


async def test_killed_reencrypt_process_resumes(
    people: Database, tenant: uuid.UUID, keyring: Keyring
) -> None:
    import asyncio
    import os
    import signal
    import sys

    keyring.cache_seconds = 0
    await _populate(people, tenant, 12)
    await rotate(people, tenant_id=tenant)
    provider = keyring.provider
    assert isinstance(provider, LocalKeyFileProvider)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _JOB,
        people.url,
        str(provider.path),
        str(tenant),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
    assert line.startswith(b"PROGRESS"), line
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    assert await _versions(people, tenant) == {1, 2}  # stopped midway
    result = await reencrypt(people, tenant_id=tenant, batch=5)
    assert result.complete
    assert await _versions(people, tenant) == {2}
    assert await retire(people, tenant_id=tenant) == [1]
    await _assert_all_readable(people, tenant, 12)
