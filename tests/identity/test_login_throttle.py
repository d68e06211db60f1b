"""Throttling of staff login across addresses: the second factor's count, IPv6 by /64.

Issue 12, finding 2: each "right password, wrong code" round used to clear the count the
second-factor check used, so codes could be guessed without end from two addresses; and
an IPv6 client could rotate through its /64 to get a fresh address count each time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from tests.identity.conftest import Clock
from tests.identity.helpers import PASSWORD, Staff, make_staff
from vaxport.core.db import Database
from vaxport.identity.login import throttle
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

Client = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def client_from(app: Any) -> Client:
    """A client whose requests come from a given address (what the transport decided)."""

    @asynccontextmanager
    async def make(address: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c

    return make


@pytest.fixture
async def vaccinator(clean_db: Database, settings: Settings, tenant: TenantInfo) -> Staff:
    return await make_staff(clean_db, settings, tenant, role="vaccinator", region_code="NOR")


async def _round(c: httpx.AsyncClient, person: Staff, code: str) -> httpx.Response:
    """Right password, then ``code`` as the second factor."""
    base = f"/api/v1/{person.tenant.code}/auth"
    first = await c.post(base + "/login", json={"username": person.username, "password": PASSWORD})
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "totp_required"
    return await c.post(
        base + "/second-factor", json={"ticket": first.json()["ticket"], "code": code}
    )


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_wrong_codes_lock_the_second_factor_even_between_right_passwords(
    client_from: Client, vaccinator: Staff, frozen: Clock
) -> None:
    async with client_from("198.51.100.7") as one, client_from("203.0.113.9") as two:
        for i in range(throttle.FACTOR.lock_at):
            # Waiting out every progressive delay: only the lock may refuse.
            frozen.advance(throttle.FACTOR.max_delay_seconds + 1)
            r = await _round(one if i % 2 else two, vaccinator, _wrong(vaccinator.code()))
            assert r.status_code == 401, (i, r.text)
        # The account's second factor is locked: even the right code, from a third
        # address, after a right password, waits out the lock.
        frozen.advance(throttle.FACTOR.max_delay_seconds + 1)
        async with client_from("192.0.2.44") as three:
            r = await _round(three, vaccinator, vaccinator.code())
            assert r.status_code == 429, r.text
            assert int(r.headers["retry-after"]) > throttle.FACTOR.max_delay_seconds
            frozen.advance(throttle.FACTOR.lock_seconds)
            r = await _round(three, vaccinator, vaccinator.code())
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "authenticated"


async def test_a_right_code_clears_the_second_factor_count(
    client_from: Client, vaccinator: Staff, frozen: Clock
) -> None:
    async with client_from("198.51.100.7") as c:
        for _ in range(throttle.FACTOR.free):
            assert (await _round(c, vaccinator, _wrong(vaccinator.code()))).status_code == 401
        assert (await _round(c, vaccinator, vaccinator.code())).status_code == 200
        frozen.advance(30)  # the next step: a code is never accepted twice
        # Free failures again: the success cleared the account's count.
        for _ in range(throttle.FACTOR.free):
            assert (await _round(c, vaccinator, _wrong(vaccinator.code()))).status_code == 401


async def test_an_ipv6_client_rotating_within_its_64_is_throttled_as_one_address(
    client_from: Client, tenant: TenantInfo, frozen: Clock
) -> None:
    statuses = []
    for i in range(throttle.ADDRESS.free + 2):
        # A new address of the same /64 and a new username every time: only the /64's
        # count can refuse.
        async with client_from(f"2001:db8:5:7:{i:x}:{i:x}:1:{i + 1:x}") as c:
            r = await c.post(
                f"/api/v1/{tenant.code}/auth/login",
                json={"username": f"sprayed-{i}", "password": "Summer2024 password"},
            )
        statuses.append(r.status_code)
    assert statuses[: throttle.ADDRESS.free + 1] == [401] * (throttle.ADDRESS.free + 1)
    assert statuses[-1] == 429
    # Another /64 has its own count.
    async with client_from("2001:db8:5:8::1") as other:
        r = await other.post(
            f"/api/v1/{tenant.code}/auth/login",
            json={"username": "sprayed-again", "password": "Summer2024 password"},
        )
    assert r.status_code == 401


async def test_ipv4_addresses_and_ipv4_mapped_ipv6_count_as_the_address(
    client_from: Client, tenant: TenantInfo, frozen: Clock
) -> None:
    statuses = []
    for i in range(throttle.ADDRESS.free + 2):
        address = "198.51.100.20" if i % 2 else "::ffff:198.51.100.20"
        async with client_from(address) as c:
            r = await c.post(
                f"/api/v1/{tenant.code}/auth/login",
                json={"username": f"sprayed-{i}", "password": "Summer2024 password"},
            )
        statuses.append(r.status_code)
    assert statuses[-1] == 429
    # A neighbour in the same /24 is another client.
    async with client_from("198.51.100.21") as c:
        r = await c.post(
            f"/api/v1/{tenant.code}/auth/login",
            json={"username": "sprayed-x", "password": "Summer2024 password"},
        )
    assert r.status_code == 401
