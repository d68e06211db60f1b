"""A registration costs at most three round trips to PostgreSQL, with or without an
Idempotency-Key: BEGIN with the tenant scope, one batch of every row (and the look-alike
query), COMMIT."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from tests.registration.conftest import staff_token
from tests.registration.helpers import member
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

# Each of these asyncpg protocol calls is one exchange with the server.
_EXCHANGES = ("query", "prepare", "bind_execute", "bind_execute_many", "bind", "execute")


class _Counting:
    """Stands for an asyncpg connection's protocol, counting the exchanges it makes."""

    def __init__(self, protocol: Any, counts: list[str]) -> None:
        self._protocol = protocol
        self._counts = counts

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._protocol, name)
        if name not in _EXCHANGES:
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            text = next((a for a in args if isinstance(a, str) and " " in a), "")
            self._counts.append(f"{name}: {' '.join(text.split())[:100]}")
            return attr(*args, **kwargs)

        return counted


@contextmanager
def round_trips(db: Database) -> Iterator[list[str]]:
    """Count the exchanges with the server of every connection checked out meanwhile."""
    counts: list[str] = []

    def checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        driver = dbapi_conn.driver_connection
        if not isinstance(driver._protocol, _Counting):
            driver._protocol = _Counting(driver._protocol, counts)

    def checkin(dbapi_conn: Any, _record: Any) -> None:
        driver = dbapi_conn.driver_connection
        if isinstance(driver._protocol, _Counting):
            driver._protocol = driver._protocol._protocol

    event.listen(db.engine.sync_engine, "checkout", checkout)
    event.listen(db.engine.sync_engine, "checkin", checkin)
    try:
        yield counts
    finally:
        event.remove(db.engine.sync_engine, "checkout", checkout)
        event.remove(db.engine.sync_engine, "checkin", checkin)


@pytest.fixture
def postgres(clean_db: Database) -> Database:
    if not clean_db.is_postgres:
        pytest.skip("round trips to a database server (PostgreSQL)")
    return clean_db


@pytest.mark.parametrize("with_key", [False, True], ids=["plain", "idempotency-key"])
async def test_a_registration_takes_at_most_three_round_trips(
    client: httpx.AsyncClient,
    postgres: Database,
    settings: Settings,
    tenant: TenantInfo,
    with_key: bool,
) -> None:
    staff = await staff_token(client, postgres, settings, tenant, "national_admin")
    url = f"/api/v1/{tenant.code}/beneficiaries"

    async def register() -> None:
        headers = dict(staff.headers)
        if with_key:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        # A name of its own: resembling no one, as nearly every registration.
        name = "Ada" + "".join(secrets.choice("bcdfghjklmnpqrstvwxz") for _ in range(8))
        answer = await client.post(url, json=member(given_name=name), headers=headers)
        assert answer.status_code == 201, answer.text

    for _ in range(2):  # keys created, then cached
        await register()
    # Each pooled connection prepares a statement once (asyncpg's statement cache): count
    # a registration on a connection that has them all, as nearly every one is.
    for _ in range(10):
        with round_trips(postgres) as counts:
            await register()
        if not any(c.startswith("prepare") for c in counts):
            break
    else:
        raise AssertionError("every registration prepared a statement again")
    assert len(counts) <= 3, "\n".join(counts)
