"""Progressive delay and temporary lock of sign-in attempts, per username, account and IP.

Counted per *key*: a keyed hash of the username typed (so an unknown username behaves
exactly like a known one), of the account whose second factor is checked, and of the
client address (IPv6 by /64: one host holds a whole /64). Each attempt is counted *before*
the password is checked, under a row lock, so a burst of parallel guesses cannot
overtake the counter; a success then clears the username's count (and takes back its
own count from the address, whose count a success never clears: one valid account must
not launder an address's guesses at others).

Second-factor failures have their own per-account key (``factor_key``), cleared only by
a second factor that succeeds: a right password clears the username's count, never the
count of wrong codes, so "right password, wrong code" rounds lock the account's second
factor at ``lock_at`` however many addresses they come from.

After ``free`` failures each further attempt must wait 1 s, 2 s, 4 s... (capped), and
from ``lock_at`` failures the key is locked for ``lock_seconds``. Counts are forgotten
``window_seconds`` after the last failure.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import Executable

from vaxport.core import clock
from vaxport.core.db import Database
from vaxport.core.http.transport import address_group
from vaxport.core.ids import uuid7
from vaxport.identity.credentials.secrets import mac
from vaxport.identity.models import LoginThrottle
from vaxport.settings import Settings


@dataclass(frozen=True, slots=True)
class Policy:
    """How many failures are free, how the delay grows, when the key locks."""

    free: int
    lock_at: int
    max_delay_seconds: float
    lock_seconds: float
    window_seconds: float

    def wait(self, failures: int) -> float:
        """Seconds to wait after the last failure before another attempt."""
        if failures <= self.free:
            return 0.0
        if failures >= self.lock_at:
            return self.lock_seconds
        return min(2.0 ** (failures - self.free - 1), self.max_delay_seconds)


USER = Policy(free=4, lock_at=10, max_delay_seconds=30, lock_seconds=900, window_seconds=3600)
FACTOR = Policy(free=4, lock_at=10, max_delay_seconds=30, lock_seconds=900, window_seconds=3600)
ADDRESS = Policy(free=20, lock_at=100, max_delay_seconds=30, lock_seconds=900, window_seconds=3600)
_PURGE_PROBABILITY = 0.01


@dataclass(frozen=True, slots=True)
class Key:
    """A throttled key and its policy."""

    value: str
    policy: Policy


def user_key(settings: Settings, tenant_id: uuid.UUID, username: str) -> Key:
    """The key of a username as typed (normalised), known or not."""
    digest = mac(settings, "throttle", tenant_id.bytes + b"u\x00" + username.lower().encode())
    return Key("u:" + digest.hex()[:40], USER)


def factor_key(settings: Settings, tenant_id: uuid.UUID, account_id: uuid.UUID) -> Key:
    """The key of an account's second factor (TOTP and recovery codes)."""
    digest = mac(settings, "throttle", tenant_id.bytes + b"f\x00" + account_id.bytes)
    return Key("f:" + digest.hex()[:40], FACTOR)


def address_key(settings: Settings, tenant_id: uuid.UUID, address: str | None) -> Key:
    """The key of a client address (IPv4 by address, IPv6 by /64)."""
    group = address_group(address)
    digest = mac(settings, "throttle", tenant_id.bytes + b"a\x00" + group.encode())
    return Key("a:" + digest.hex()[:40], ADDRESS)


class Throttled(Exception):  # noqa: N818 - a refusal, not a failure
    """Too many failures: try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after:.0f}s")
        self.retry_after = retry_after


def _insert_missing(session: AsyncSession, tenant_id: uuid.UUID, key: str) -> Executable:
    values = {"id": uuid7(), "tenant_id": tenant_id, "key": key, "failures": 0}
    dialect = session.get_bind().dialect.name
    ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return ins(LoginThrottle).values(**values).on_conflict_do_nothing()


async def attempt(db: Database, *, tenant_id: uuid.UUID, keys: list[Key]) -> None:
    """Count an attempt for every key, or raise :class:`Throttled` (counting nothing)."""
    now = clock.utcnow()
    async with db.transaction(tenant_id=tenant_id) as uow:
        s = uow.session
        rows: list[tuple[Key, LoginThrottle]] = []
        for key in keys:
            await s.execute(_insert_missing(s, tenant_id, key.value))
            row = (
                await s.execute(
                    select(LoginThrottle)
                    .where(LoginThrottle.tenant_id == tenant_id, LoginThrottle.key == key.value)
                    .with_for_update()
                )
            ).scalar_one()
            rows.append((key, row))
        waits = []
        for key, row in rows:
            if row.last_failure_at is not None and (
                (now - row.last_failure_at).total_seconds() > key.policy.window_seconds
            ):
                row.failures = 0
            if row.last_failure_at is not None and row.failures:
                ready = row.last_failure_at + dt.timedelta(seconds=key.policy.wait(row.failures))
                if ready > now:
                    waits.append((ready - now).total_seconds())
        if waits:
            raise Throttled(max(waits))
        for _, row in rows:
            row.failures += 1
            row.last_failure_at = now
    if random.random() < _PURGE_PROBABILITY:  # noqa: S311 - housekeeping, not security
        await purge(db, tenant_id=tenant_id)


async def succeeded(db: Database, *, tenant_id: uuid.UUID, user: Key, address: Key) -> None:
    """The attempt succeeded: clear the username's count, take back the address's one."""
    async with db.transaction(tenant_id=tenant_id) as uow:
        await uow.session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.tenant_id == tenant_id, LoginThrottle.key == user.value)
            .values(failures=0)
        )
        await uow.session.execute(
            update(LoginThrottle)
            .where(
                LoginThrottle.tenant_id == tenant_id,
                LoginThrottle.key == address.value,
                LoginThrottle.failures > 0,
            )
            .values(failures=LoginThrottle.failures - 1)
        )


async def clear(db: Database, *, tenant_id: uuid.UUID, key: Key) -> None:
    """Forget a key's failures (a second factor that succeeded)."""
    async with db.transaction(tenant_id=tenant_id) as uow:
        await uow.session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.tenant_id == tenant_id, LoginThrottle.key == key.value)
            .values(failures=0)
        )


async def purge(db: Database, *, tenant_id: uuid.UUID) -> None:
    """Delete counts nobody has added to for longer than any window."""
    horizon = clock.utcnow() - dt.timedelta(
        seconds=max(USER.window_seconds, FACTOR.window_seconds, ADDRESS.window_seconds)
    )
    async with db.transaction(tenant_id=tenant_id) as uow:
        await uow.session.execute(
            delete(LoginThrottle).where(
                LoginThrottle.tenant_id == tenant_id, LoginThrottle.last_failure_at < horizon
            )
        )
