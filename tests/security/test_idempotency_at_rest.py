"""Nothing personal or secret rests in clear, with or without ``Idempotency-Key`` (issue 12, 1).

The class walk calls every write route through its audit-walk recipe (routes added
later join through their recipe), once with an ``Idempotency-Key`` and its retry, once
without, at DEBUG with SQL echo on. Then no spelling of the known personal values and
no secret any answer carried (claim codes, tokens, recovery codes, links) may appear in
any column of any table, in the SQLite file's bytes, or in any log line; no replay may
carry a secret again. Every API answer walked must be ``Cache-Control: no-store``.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import METADATA
from tests.security.keyed import canaries, json_of, scan_database, secrets_in, send_keyed
from tests.security.recipes.registration import register, register_walk_in
from tests.security.routes import RECIPES, load_recipes, send, write_routes
from tests.security.test_clean_logs import captured  # noqa: F401 - a fixture
from tests.security.world import World
from vaxport.core import migrate
from vaxport.core.crypto import SubjectKeyDestroyedError
from vaxport.core.crypto.direct import open_bytes
from vaxport.core.db import Database
from vaxport.core.http.dependencies import iter_routes
from vaxport.core.idempotency import IdempotencyKey
from vaxport.registration.models import Beneficiary
from vaxport.settings import Settings

PUBLIC_CACHEABLE: frozenset[tuple[str, str]] = frozenset()  # no write answer may be cached
# Columns that hold the walk's values in clear by design, each with its reason. A needle
# found in one of them cannot be looked for in the raw file bytes (it is there, rightly).
PUBLIC_COLUMNS: dict[tuple[str, str], str] = {
    ("facilities", "email"): "a centre's contact address, published in the public directory",
    ("facilities", "phone"): "a centre's contact number, published in the public directory",
}


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """The walk's app logs at DEBUG with SQL echo, as the clean-logs walk's does."""
    if "captured" not in request.fixturenames:
        return settings
    return settings.model_copy(update={"log_level": "DEBUG", "database_echo": True})


@pytest.fixture
async def clean_db(clean_db: Database, tmp_path: Path) -> AsyncIterator[Database]:
    """On SQLite a database file of this test alone: its bytes hold only what it wrote."""
    if not clean_db.is_sqlite:
        yield clean_db
        return
    fresh = Database(f"sqlite+aiosqlite:///{tmp_path / 'scan.db'}")
    await migrate.upgrade(fresh, metadata=METADATA)
    yield fresh
    await fresh.dispose()


def _no_store(method: str, path: str, resp: Any) -> str | None:
    if not 200 <= resp.status_code < 300 or json_of(resp) is None:
        return None
    if (method, path) in PUBLIC_CACHEABLE or "no-store" in resp.headers.get("cache-control", ""):
        return None
    return f"{method} {path}: {resp.status_code} without Cache-Control: no-store"


async def _walk(app: Any, world: World, *, keyed: bool) -> dict[str, str]:
    """Call every recipe (keyed: twice under one key); the needles to look for after."""
    load_recipes()
    secrets: set[str] = set()
    problems: list[str] = []
    walked = 0
    for n, (method, path) in enumerate(write_routes(app)):
        make = RECIPES.get((method, path))
        if make is None:
            continue
        call = await make(world)
        if keyed:
            first = await send_keyed(world, method, path, call, f"walk-{n}")
            retry = await send_keyed(world, method, path, call, f"walk-{n}")
            assert retry.status_code < 500, f"{method} {path}: retry {retry.status_code}"
            answers = [first, retry]
            if retry.headers.get("idempotent-replayed") and (
                again := secrets_in(json_of(first)) & secrets_in(json_of(retry))
            ):
                problems.append(f"{method} {path}: a replay carried {len(again)} secret(s)")
        else:
            first = await send(world, method, path, call)
            answers = [first]
        assert first.status_code < 300, f"{method} {path}: {first.status_code} {first.text}"
        walked += 1
        for resp in answers:
            secrets |= secrets_in(json_of(resp))
            problems += filter(None, [_no_store(method, path, resp)])
    assert walked == len(RECIPES)
    assert not problems, "\n".join(problems)
    assert secrets, "the walk saw no secret: claim codes, tokens?"
    return {**canaries(), **{f"secret {s[:4]}...": s for s in secrets}}


async def test_with_a_key_nothing_personal_or_secret_rests_or_is_logged(
    app: Any,
    world: World,
    captured: io.StringIO,  # noqa: F811 - a fixture
) -> None:
    needles = await _walk(app, world, keyed=True)
    at_rest = await scan_database(world.db, needles, public=PUBLIC_COLUMNS)
    log = captured.getvalue()
    assert "INSERT INTO idempotency_keys" in log  # the capture saw the store at work
    in_logs = sorted({label for label, v in needles.items() if v.lower() in log.lower()})
    assert not at_rest, f"personal values or secrets at rest: {at_rest}"
    assert not in_logs, f"personal values or secrets in the logs: {in_logs}"
    async with world.db.read(tenant_id=world.tenant.id) as session:
        kept = (await session.execute(select(IdempotencyKey.subject_id))).scalars().all()
    assert len(kept) >= len(RECIPES) // 2, "the walk kept (almost) no answer"
    assert any(kept), "no kept answer was sealed under a person's key"


async def test_without_a_key_nothing_personal_or_secret_rests(app: Any, world: World) -> None:
    # Its logs are the clean-logs walk's (tests/security/test_clean_logs.py).
    needles = await _walk(app, world, keyed=False)
    at_rest = await scan_database(world.db, needles, public=PUBLIC_COLUMNS)
    assert not at_rest, f"personal values or secrets at rest: {at_rest}"


async def _kept_row(w: World) -> tuple[uuid.UUID, uuid.UUID | None, bytes]:
    """(id, subject, sealed body) of the one answer kept in the world's tenant."""
    async with w.db.read(tenant_id=w.tenant.id) as session:
        row = (
            await session.execute(
                select(
                    IdempotencyKey.id,
                    IdempotencyKey.subject_id,
                    IdempotencyKey.person_answer_enc,
                ).where(IdempotencyKey.state == "done")
            )
        ).one()
    return row.id, row.subject_id, bytes(row.person_answer_enc)


async def test_a_registration_answer_is_sealed_under_the_persons_key_and_erasure_shreds_it(
    world: World,
) -> None:
    path = "/api/v1/{tenant}/beneficiaries"
    call = await register(world)
    first = await send_keyed(world, "POST", path, call, "reg-1")
    assert first.status_code == 201
    assert "no-store" in first.headers["cache-control"]
    person = uuid.UUID(first.json()["id"])
    row_id, subject, sealed = await _kept_row(world)
    assert subject == person
    assert first.json()["family_name"].encode() not in sealed

    again = await send_keyed(world, "POST", path, call, "reg-1")
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    assert "no-store" in again.headers["cache-control"]

    erased = await world.client.delete(world.api + f"/beneficiaries/{person}", headers=call.headers)
    assert erased.status_code == 204
    # The copy taken before the erasure (a backup, a dump) no longer opens.
    async with world.db.read(tenant_id=world.tenant.id) as session:
        with pytest.raises(SubjectKeyDestroyedError):
            await session.run_sync(
                lambda s: open_bytes(
                    s,
                    IdempotencyKey,
                    "person_answer",
                    tenant_id=world.tenant.id,
                    row_id=row_id,
                    blob=sealed,
                    subject_id=person,
                )
            )
        cleared = await session.scalar(
            select(IdempotencyKey.person_answer_enc).where(IdempotencyKey.id == row_id)
        )
    assert cleared is None
    gone = await send_keyed(world, "POST", path, call, "reg-1")
    assert gone.status_code == 410
    assert gone.headers["content-type"] == "application/problem+json"
    assert "idempotent-replayed" not in gone.headers


async def test_a_walk_in_retry_gets_its_answer_without_the_claim_code_and_registers_once(
    world: World,
) -> None:
    path = "/api/v1/{tenant}/beneficiaries/walk-ins"
    call = await register_walk_in(world)
    first = await send_keyed(world, "POST", path, call, "walk-in-1")
    assert first.status_code == 201
    code = first.json()["claim_code"]
    assert code
    assert "no-store" in first.headers["cache-control"]
    again = await send_keyed(world, "POST", path, call, "walk-in-1")
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["idempotent-withheld"] == "claim_code"
    assert again.json() == {**first.json(), "claim_code": None}
    assert code not in again.text
    async with world.db.read(tenant_id=world.tenant.id) as session:
        people = (await session.execute(select(Beneficiary.id))).scalars().all()
    assert people == [uuid.UUID(first.json()["id"])]  # the retry registered no one
    assert await scan_database(world.db, {"claim code": code}) == []


# Reads whose answers are public by design and say so (``Cache-Control: public``).
PUBLIC_READS: dict[str, str] = {
    "/api/v1/{tenant}/config": "the country's public configuration (no person in it)",
    "/api/v1/{tenant}/facilities": "the public directory of centres (public route)",
    "/api/v1/{tenant}/facilities/{facility_id}": "one centre of the public directory",
    "/api/v1/{tenant}/slots": "open slots and their seats left (public search, no person in it)",
    "/api/v1/{tenant}/slots/calendar": "open seats per centre and day (public, no person in it)",
    "/api/v1/{tenant}/$bulk-publish": "the availability feed's manifest (SMART Scheduling Links)",
    "/api/v1/trust-list": "the signed bundle of public keys and revocations verifiers refresh",
}


async def test_every_api_read_answer_is_no_store_unless_declared_public(
    app: Any, world: World
) -> None:
    """Every GET route of the API, called as the administrator (other path parameters:
    a fresh id, so most answer 404): a 2xx JSON answer is ``no-store``, or ``public`` and
    declared so in :data:`PUBLIC_READS`."""
    problems: list[str] = []
    called = 0
    for path, route, _deps in iter_routes(app.routes):
        if not path.startswith("/api/v1/") or "GET" not in (getattr(route, "methods", None) or ()):
            continue
        names = {n: str(uuid.uuid4()) for n in route.param_convertors if n != "tenant"}
        url = path.format(tenant=world.tenant.code, **names)
        resp = await world.client.get(url, headers=world.admin_auth)
        called += 1
        cache = resp.headers.get("cache-control", "")
        if not 200 <= resp.status_code < 300 or json_of(resp) is None:
            continue
        if "public" in cache and path not in PUBLIC_READS:
            problems.append(f"GET {path}: {cache!r} but not declared in PUBLIC_READS")
        elif "public" not in cache and "no-store" not in cache:
            problems.append(f"GET {path}: {resp.status_code} without Cache-Control: no-store")
    assert called >= 20, "the walk found too few read routes"
    assert not problems, "\n".join(problems)
