"""Idempotency-Key: replays, conflicts, in-flight duplicates, scoping, expiry."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Response
from sqlalchemy import func, insert, select, text, update

from tests.core.outbox_support import count, wait_for
from tests.support.tenants import load_tenant
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.errors import ServiceUnavailable
from vaxport.core.http.dependencies import requires
from vaxport.core.idempotency import (
    IN_PROGRESS,
    IdempotencyKey,
    caller_scope,
    purge_expired,
    scope_hash,
    tenant_segment,
)
from vaxport.core.outbox import OutboxEvent, emit
from vaxport.core.schemas import RequestModel
from vaxport.settings import Settings

BOOK = "/api/v1/xx/test/bookings"
AUTH = {"Authorization": "Bearer caller-one"}


class BookingIn(RequestModel):
    slot: str


@pytest.fixture
async def tenants(odb: Database, cache: Cache) -> dict[str, uuid.UUID]:
    """The two tenants the test routes live in (keys are kept per tenant, under RLS)."""
    return {code: (await load_tenant(odb, cache, code=code)).id for code in ("xx", "yy")}


@pytest.fixture
async def app(
    settings: Settings, odb: Database, cache: Cache, tenants: dict[str, uuid.UUID]
) -> FastAPI:
    from vaxport.app import create_app

    app = create_app(settings, database=odb, cache=cache)
    app.state.gate = None
    app.state.flaky_calls = 0

    @app.post(
        "/api/v1/{tenant}/test/bookings",
        status_code=201,
        dependencies=[requires("test:book", public=True)],
    )
    async def book(tenant: str, body: BookingIn, response: Response) -> dict[str, Any]:
        gate: asyncio.Event | None = app.state.gate
        async with odb.transaction() as uow:
            event_id = await emit(uow, "test.booked", {"slot": body.slot})
        if gate is not None:
            await gate.wait()
        await asyncio.sleep(0.01)  # let duplicates pile up behind the first
        response.headers["Location"] = f"/api/v1/{tenant}/test/bookings/{event_id}"
        response.set_cookie("session", "per-request")
        return {"id": str(event_id), "slot": body.slot}

    @app.post("/api/v1/{tenant}/test/flaky", dependencies=[requires("test:flaky", public=True)])
    async def flaky(tenant: str) -> dict[str, int]:
        app.state.flaky_calls += 1
        if app.state.flaky_calls == 1:
            raise ServiceUnavailable("provider down")
        if app.state.flaky_calls == 2:
            raise RuntimeError("bug")
        async with odb.transaction() as uow:
            await emit(uow, "test.flaky", {})
        return {"calls": app.state.flaky_calls}

    @app.post(
        "/api/v1/{tenant}/test/tickets",
        status_code=201,
        dependencies=[requires("test:ticket", public=True)],
    )
    async def ticket(tenant: str, body: BookingIn, response: Response) -> dict[str, str]:
        async with odb.transaction() as uow:
            await emit(uow, "test.ticket", {"slot": body.slot})
        response.headers["Cache-Control"] = "no-store"
        return {"ticket": f"secret-for-{body.slot}"}

    @app.post("/api/v1/{tenant}/test/private", dependencies=[requires("test:private")])
    async def private(tenant: str) -> dict[str, str]:
        return {}

    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # raise_app_exceptions=False: the client sees the 500 a real client would see.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def _has_effect(db: Database) -> bool:
    return await count(db, OutboxEvent) > 0


def _headers(key: str, **more: str) -> dict[str, str]:
    return {**AUTH, "Idempotency-Key": key, **more}


async def _keys(db: Database, tenant: str = "xx") -> list[IdempotencyKey]:
    async with db.read(tenant_id=await _tenant_id(db, tenant)) as session:
        rows = list((await session.execute(select(IdempotencyKey))).scalars())
        for row in rows:
            session.expunge(row)
        return rows


async def _tenant_id(db: Database, code: str) -> uuid.UUID:
    from vaxport.tenancy.models import Tenant

    async with db.read() as session:
        found = await session.scalar(select(Tenant.id).where(Tenant.code == code))
    assert found is not None
    return found


async def test_replay_returns_the_first_answer_and_changes_nothing(
    client: httpx.AsyncClient, odb: Database
) -> None:
    first = await client.post(BOOK, json={"slot": "A1"}, headers=_headers("k-1"))
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    again = await client.post(BOOK, json={"slot": "A1"}, headers=_headers("k-1"))
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["location"] == first.headers["location"]
    assert "set-cookie" in first.headers
    assert "set-cookie" not in again.headers  # never replay another response's cookies
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    assert await count(odb, OutboxEvent) == 1
    [row] = await _keys(odb)
    assert row.state == "done"
    assert row.response_status == 201
    assert row.expires_at >= utcnow() + dt.timedelta(hours=23, minutes=59)
    assert row.key == "k-1"
    assert "caller-one" not in row.scope  # the scope is a hash, never the credentials


async def test_same_key_with_a_different_body_is_a_422(
    client: httpx.AsyncClient, odb: Database
) -> None:
    await client.post(BOOK, json={"slot": "A1"}, headers=_headers("k-2"))
    r = await client.post(BOOK, json={"slot": "B7"}, headers=_headers("k-2"))
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert [(e["field"], e["reason"]) for e in r.json()["errors"]] == [
        ("header.Idempotency-Key", "already used for a different request")
    ]
    other_path = await client.post(
        "/api/v1/xx/test/flaky", json={"slot": "A1"}, headers=_headers("k-2")
    )
    assert other_path.status_code == 422
    assert await count(odb, OutboxEvent) == 1


async def test_a_secret_answer_is_not_kept_but_its_key_stays_bound_to_its_request(
    client: httpx.AsyncClient, odb: Database
) -> None:
    tickets = "/api/v1/xx/test/tickets"
    first = await client.post(tickets, json={"slot": "A1"}, headers=_headers("t-1"))
    assert first.status_code == 201
    [row] = await _keys(odb)
    assert (row.state, row.response_status) == ("unkept", None)
    assert row.answer_enc is None  # the secret rests nowhere
    assert row.person_answer_enc is None
    other = await client.post(tickets, json={"slot": "B7"}, headers=_headers("t-1"))
    assert other.status_code == 422
    assert [(e["field"], e["reason"]) for e in other.json()["errors"]] == [
        ("header.Idempotency-Key", "already used for a different request")
    ]
    assert await count(odb, OutboxEvent) == 1  # the other request did not run
    again = await client.post(tickets, json={"slot": "A1"}, headers=_headers("t-1"))
    assert again.status_code == 201  # the same request runs again: nothing to replay
    assert "idempotent-replayed" not in again.headers
    assert await count(odb, OutboxEvent) == 2
    [row] = await _keys(odb)
    assert row.state == "unkept"


async def test_retry_while_the_first_is_still_running_is_a_409(
    app: FastAPI, client: httpx.AsyncClient, odb: Database
) -> None:
    app.state.gate = gate = asyncio.Event()
    first = asyncio.create_task(client.post(BOOK, json={"slot": "A1"}, headers=_headers("k-3")))
    await wait_for(lambda: _has_effect(odb))  # the first is inside the use case
    busy = await client.post(BOOK, json={"slot": "A1"}, headers=_headers("k-3"))
    assert busy.status_code == 409
    assert busy.headers["content-type"] == "application/problem+json"
    assert busy.headers["retry-after"] == "1"
    gate.set()
    done = await first
    assert done.status_code == 201
    later = await client.post(BOOK, json={"slot": "A1"}, headers=_headers("k-3"))
    assert (later.status_code, later.content) == (201, done.content)
    assert later.headers["idempotent-replayed"] == "true"
    assert await count(odb, OutboxEvent) == 1


async def test_twenty_concurrent_duplicates_take_effect_once(
    client: httpx.AsyncClient, odb: Database
) -> None:
    responses = await asyncio.gather(
        *(client.post(BOOK, json={"slot": "Z9"}, headers=_headers("k-race")) for _ in range(20))
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    originals = [
        r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers
    ]
    assert len(originals) == 1
    assert {r.content for r in responses if r.status_code == 201} == {originals[0].content}
    assert await count(odb, OutboxEvent) == 1
    replay = await client.post(BOOK, json={"slot": "Z9"}, headers=_headers("k-race"))
    assert (replay.status_code, replay.content) == (201, originals[0].content)
    assert await count(odb, OutboxEvent) == 1


@pytest.mark.parametrize(
    "value",
    [b"", b"x" * 256, b"tab\there", b"caf\xe9", b"del\x7f", b"nul\x00"],
    ids=["empty", "too-long", "tab", "non-ascii", "del", "nul"],
)
async def test_malformed_key_is_a_422_and_changes_nothing(
    client: httpx.AsyncClient, odb: Database, value: bytes
) -> None:
    r = await client.post(BOOK, json={"slot": "A1"}, headers=[("Idempotency-Key", value)])
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "header.Idempotency-Key"
    assert await count(odb, OutboxEvent) == 0
    assert await _keys(odb) == []


async def test_two_keys_in_one_request_are_refused(
    client: httpx.AsyncClient, odb: Database
) -> None:
    r = await client.post(
        BOOK, json={"slot": "A1"}, headers=[("Idempotency-Key", "a"), ("Idempotency-Key", "b")]
    )
    assert r.status_code == 422
    assert await count(odb, OutboxEvent) == 0


async def test_longest_valid_key_is_accepted(client: httpx.AsyncClient, odb: Database) -> None:
    key = "~ !" + "k" * 252
    assert len(key) == 255
    r = await client.post(BOOK, json={"slot": "A1"}, headers=_headers(key))
    assert r.status_code == 201
    assert (await _keys(odb))[0].key == key


async def test_requests_without_a_key_and_safe_methods_are_left_alone(
    client: httpx.AsyncClient, odb: Database
) -> None:
    await client.post(BOOK, json={"slot": "A1"}, headers=AUTH)
    await client.post(BOOK, json={"slot": "A1"}, headers=AUTH)
    assert await count(odb, OutboxEvent) == 2
    r = await client.get("/healthz", headers=_headers("k-get"))
    assert r.status_code == 200
    assert await _keys(odb) == []


async def test_server_errors_are_not_kept_so_the_retry_runs(
    app: FastAPI, client: httpx.AsyncClient, odb: Database
) -> None:
    url = "/api/v1/xx/test/flaky"
    assert (await client.post(url, headers=_headers("k-5xx"))).status_code == 503
    assert await _keys(odb) == []
    crashed = await client.post(url, headers=_headers("k-5xx"))
    assert crashed.status_code == 500
    assert await _keys(odb) == []
    ok = await client.post(url, headers=_headers("k-5xx"))
    assert (ok.status_code, ok.json()) == (200, {"calls": 3})
    replay = await client.post(url, headers=_headers("k-5xx"))
    assert replay.json() == {"calls": 3}
    assert app.state.flaky_calls == 3
    assert await count(odb, OutboxEvent) == 1


async def test_client_errors_are_kept_except_those_inviting_a_retry(
    client: httpx.AsyncClient, odb: Database
) -> None:
    bad = await client.post(BOOK, json={"slot": "A1", "extra": 1}, headers=_headers("k-422"))
    assert bad.status_code == 422
    again = await client.post(BOOK, json={"slot": "A1", "extra": 1}, headers=_headers("k-422"))
    assert (again.status_code, again.content) == (422, bad.content)
    assert again.headers["idempotent-replayed"] == "true"

    denied = await client.post("/api/v1/xx/test/private", headers=_headers("k-401"))
    assert denied.status_code == 401
    assert [k.key for k in await _keys(odb)] == ["k-422"]  # the 401 is not kept


async def test_keys_are_scoped_to_the_caller_and_the_tenant(
    client: httpx.AsyncClient, odb: Database
) -> None:
    body = {"slot": "A1"}
    me = await client.post(BOOK, json=body, headers=_headers("shared"))
    other = await client.post(
        BOOK, json=body, headers={"Authorization": "Bearer caller-two", "Idempotency-Key": "shared"}
    )
    anonymous = await client.post(BOOK, json=body, headers={"Idempotency-Key": "shared"})
    other_tenant = await client.post(
        "/api/v1/yy/test/bookings", json=body, headers=_headers("shared")
    )
    for r in (me, other, anonymous, other_tenant):
        assert r.status_code == 201
        assert "idempotent-replayed" not in r.headers
    assert await count(odb, OutboxEvent) == 4


async def test_expired_key_is_replaced_and_runs_again(
    client: httpx.AsyncClient, odb: Database
) -> None:
    await client.post(BOOK, json={"slot": "A1"}, headers=_headers("k-old"))
    async with odb.transaction(tenant_id=await _tenant_id(odb, "xx")) as uow:
        await uow.session.execute(
            update(IdempotencyKey).values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
    r = await client.post(BOOK, json={"slot": "A1"}, headers=_headers("k-old"))
    assert r.status_code == 201
    assert "idempotent-replayed" not in r.headers
    assert await count(odb, OutboxEvent) == 2
    assert len(await _keys(odb)) == 1


async def test_in_progress_claim_of_a_crashed_request_lapses(
    client: httpx.AsyncClient, odb: Database, settings: Settings
) -> None:
    scope = {"path": BOOK, "headers": [(b"authorization", AUTH["Authorization"].encode())]}
    now = utcnow()
    stale = now - dt.timedelta(seconds=settings.idempotency_lock_seconds + 1)
    xx = await _tenant_id(odb, "xx")
    async with odb.transaction(tenant_id=xx) as uow:
        for key, created in (("k-crashed", stale), ("k-running", now)):
            await uow.session.execute(
                insert(IdempotencyKey).values(
                    tenant_id=xx,
                    scope=scope_hash(scope),
                    key=key,
                    fingerprint="0" * 64,
                    state=IN_PROGRESS,
                    created_at=created,
                    expires_at=now + dt.timedelta(hours=24),
                )
            )
    running = await client.post(BOOK, json={"slot": "A1"}, headers=_headers("k-running"))
    assert running.status_code == 422  # a live claim, made by a different request
    crashed = await client.post(BOOK, json={"slot": "A1"}, headers=_headers("k-crashed"))
    assert crashed.status_code == 201
    assert await count(odb, OutboxEvent) == 1


async def test_oversized_body_with_a_key_is_a_413_and_claims_nothing(
    client: httpx.AsyncClient, odb: Database
) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"y" * 65536

    r = await client.post(BOOK, content=chunks(), headers=_headers("k-big"))
    assert r.status_code == 413
    assert await _keys(odb) == []


async def test_expired_keys_are_purged_by_the_worker_housekeeping(
    odb: Database, cache: Cache, settings: Settings, tenants: dict[str, uuid.UUID]
) -> None:
    from vaxport.core.crypto import get_keyring
    from vaxport.core.outbox import Subscriptions, Worker

    now = utcnow()
    xx = tenants["xx"]
    async with odb.transaction(tenant_id=xx) as uow:
        # A tenant with kept answers has a data key (they are sealed under it).
        await uow.session.run_sync(lambda s: get_keyring().active(s, xx, "data"))
        for key, expires in (
            ("gone", now - dt.timedelta(minutes=1)),
            ("kept", now + dt.timedelta(hours=1)),
        ):
            await uow.session.execute(
                insert(IdempotencyKey).values(
                    tenant_id=xx,
                    scope="s" * 64,
                    key=key,
                    fingerprint="f" * 64,
                    state="done",
                    response_status=200,
                    created_at=now,
                    expires_at=expires,
                )
            )
    await Worker(odb, cache, settings, subscriptions=Subscriptions()).housekeep(force=True)
    assert [k.key for k in await _keys(odb)] == ["kept"]
    assert await purge_expired(db=odb, now=now + dt.timedelta(hours=2)) == 1
    async with odb.read(tenant_id=xx) as session:
        assert await session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0


def test_caller_scope_prefers_principal_then_credentials_then_address() -> None:
    base: dict[str, Any] = {"headers": [(b"authorization", b"Bearer t")], "client": ("10.0.0.1", 5)}
    assert caller_scope({**base, "state": {"principal_id": "user-7"}}) == "principal:user-7"
    assert caller_scope(base).startswith("auth:")
    assert "Bearer" not in caller_scope(base)
    assert caller_scope({"headers": [], "client": ("10.0.0.1", 5)}) == "addr:10.0.0.1"
    assert caller_scope({"headers": []}) == "addr:-"


@pytest.mark.parametrize(
    ("path", "tenant"),
    [
        ("/api/v1/ke/bookings", "ke"),
        ("/api/v1/verify", ""),
        ("/fhir/ke/Immunization", "ke"),
        ("/ke/book", "ke"),
        ("/login", ""),
    ],
)
def test_tenant_segment(path: str, tenant: str) -> None:
    assert tenant_segment(path) == tenant


async def test_a_kept_answer_is_sealed_and_seen_only_in_its_tenant(
    client: httpx.AsyncClient, odb: Database, owner_db: Database, tenants: dict[str, uuid.UUID]
) -> None:
    first = await client.post(BOOK, json={"slot": "PLAIN-SLOT-42"}, headers=_headers("k-seal"))
    assert first.status_code == 201
    assert "no-store" in first.headers["cache-control"]
    async with owner_db.engine.connect() as conn:
        [row] = (await conn.execute(text("SELECT * FROM idempotency_keys"))).mappings().all()
    assert row["tenant_id"] in (tenants["xx"], str(tenants["xx"]), tenants["xx"].hex)
    for column, value in row.items():
        raw = bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
        assert b"PLAIN-SLOT-42" not in raw, column
    assert bytes(row["answer_enc"])[:1] == b"\xfa"  # a vaxport ciphertext
    again = await client.post(BOOK, json={"slot": "PLAIN-SLOT-42"}, headers=_headers("k-seal"))
    assert (again.status_code, again.content) == (201, first.content)
    assert "no-store" in again.headers["cache-control"]
    assert len(await _keys(odb, "xx")) == 1
    if odb.is_postgres:  # row-level security: another tenant, or none, sees nothing
        assert await _keys(odb, "yy") == []
        async with odb.read() as session:
            assert await session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0


async def test_a_path_outside_any_tenant_keeps_nothing(
    client: httpx.AsyncClient, odb: Database
) -> None:
    url = "/api/v1/zz/test/bookings"  # no tenant "zz": nothing is a tenant's to keep
    for _ in range(2):
        r = await client.post(url, json={"slot": "A1"}, headers=_headers("k-zz"))
        assert r.status_code == 201
        assert "idempotent-replayed" not in r.headers
    assert await count(odb, OutboxEvent) == 2
    async with odb.read() as session:
        assert await session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0
