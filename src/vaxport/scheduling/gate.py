"""The seat gate: a counter per slot in Redis that turns away bookings of a full slot.

A hot slot's row serializes its updates, so a surge of requests for a slot that is
already full would queue on that row only to be refused. The gate answers them first:
one Lua script per request (atomic in Redis) admits while the slot's counter of
remaining seats is above zero and takes one, or says *full* without the database being
asked. The database stays the only truth: an admitted request still takes its seat with
the conditional UPDATE (``seats.take``), which may refuse it.

The counter is a cache of ``capacity - booked`` and is corrected from the database:

- **no counter** (never seeded, or expired): the request goes to the database, which
  answers; a booking then seeds the counter with the seats it saw left (the slot's row,
  read in the booking's own transaction: no extra query), a refusal as full sets it to
  0. Counters live ``booking_gate_seconds``, so any drift (a process that died holding a
  permit, a lost release) lasts that long;
- **refused by the database as full**: the counter is set to 0 (the slot is full *now*);
- **admitted but not booked** (refused by eligibility, a conflict, an error): the permit
  is given back;
- **a seat freed** (cancellation, reschedule, expired hold): given back after commit.

A slot the gate found full is also noted in this process for :data:`NEAR_FULL_SECONDS`,
so a burst for it costs neither Redis nor the database; a seat freed meanwhile is seen
by this process that much later (it is seen at once by the others).

The gate needs Redis (``VAXPORT_REDIS_URL``) and is on unless ``VAXPORT_BOOKING_GATE``
is false; on the embedded default (in-process cache) there is no gate: one process has
no surge to shed and the database answers alone. When Redis fails the gate steps aside
(every request goes to the database) and says so in the log.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import weakref
from typing import Any

from vaxport.core.cache import Cache, RedisBackend
from vaxport.core.logging import get_logger
from vaxport.settings import Settings

__all__ = ["NEAR_FULL_SECONDS", "SeatGate", "gate_for", "seats_freed"]

log = get_logger(__name__)

NEAR_FULL_SECONDS = 0.25
_NEAR_MAX = 10_000
# Gate calls in flight per process: a surge queues here for a fraction of a millisecond
# each instead of exhausting the Redis client's connection pool (100), which would fail
# the calls and send every request on to the database.
IN_FLIGHT = 32

# KEYS[1]: a slot's remaining seats. Returns 1 (admitted: one seat taken from the
# counter), 0 (full) or -1 (no counter: ask the database).
_ADMIT = """
local left = redis.call('GET', KEYS[1])
if not left then return -1 end
if tonumber(left) <= 0 then return 0 end
redis.call('DECR', KEYS[1])
return 1
"""
# A seat back to a known counter (a missing one is seeded by the next booking).
_GIVE_BACK = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCR', KEYS[1]) end
return -1
"""


class SeatGate:
    """The gate of one Redis client (see the module docstring)."""

    def __init__(self, client: Any, *, prefix: str, ttl_seconds: float) -> None:
        self._admit = client.register_script(_ADMIT)
        self._give_back = client.register_script(_GIVE_BACK)
        self._client = client
        self._prefix = prefix
        self._ttl_ms = max(1, int(ttl_seconds * 1000))
        self._near_full: dict[str, float] = {}
        self._in_flight = asyncio.Semaphore(IN_FLIGHT)

    def _key(self, tenant_id: uuid.UUID, slot_id: uuid.UUID) -> str:
        return f"{self._prefix}:seats:{tenant_id}:{slot_id}"

    async def admit(self, tenant_id: uuid.UUID, slot_id: uuid.UUID) -> bool | None:
        """Take a permit: True (go on to the database), False (full: refuse now), or None
        (no counter, or Redis down: the database answers; seed the counter after)."""
        key = self._key(tenant_id, slot_id)
        noted = self._near_full.get(key)
        if noted is not None:
            if noted > time.monotonic():
                return False
            del self._near_full[key]
        try:
            async with self._in_flight:
                answer = int(await self._admit(keys=[key]))
        except Exception as exc:  # noqa: BLE001 - the gate only sheds load: step aside
            log.warning("booking_gate.unavailable", error=type(exc).__name__)
            return None
        if answer < 0:
            return None
        if answer == 0:
            self._note_full(key)
            return False
        return True

    async def seed(self, tenant_id: uuid.UUID, slot_id: uuid.UUID, remaining: int) -> None:
        """Start a missing counter at ``remaining`` (what a booking saw left in the
        database); a counter another request started meanwhile is kept."""
        key = self._key(tenant_id, slot_id)
        try:
            async with self._in_flight:
                await self._client.set(key, max(0, remaining), px=self._ttl_ms, nx=True)
        except Exception as exc:  # noqa: BLE001 - see give_back
            log.warning("booking_gate.unavailable", error=type(exc).__name__)

    def _note_full(self, key: str) -> None:
        near = self._near_full
        if len(near) >= _NEAR_MAX:
            now = time.monotonic()
            for stale in [k for k, until in near.items() if until <= now]:
                del near[stale]
            while len(near) >= _NEAR_MAX:
                del near[next(iter(near))]
        near[key] = time.monotonic() + NEAR_FULL_SECONDS

    async def give_back(self, tenant_id: uuid.UUID, slot_id: uuid.UUID) -> None:
        """A permit or a seat returns (an admitted request did not book; a seat freed)."""
        key = self._key(tenant_id, slot_id)
        self._near_full.pop(key, None)
        try:
            async with self._in_flight:
                await self._give_back(keys=[key])
        except Exception as exc:  # noqa: BLE001 - the counter lapses and is reseeded
            log.warning("booking_gate.unavailable", error=type(exc).__name__)

    async def full(self, tenant_id: uuid.UUID, slot_id: uuid.UUID) -> None:
        """The database refused a seat: the slot is full now (until a seat is given back)."""
        key = self._key(tenant_id, slot_id)
        self._note_full(key)
        try:
            async with self._in_flight:
                await self._client.set(key, 0, px=self._ttl_ms)
        except Exception as exc:  # noqa: BLE001 - see give_back
            log.warning("booking_gate.unavailable", error=type(exc).__name__)

    async def forget(self, tenant_id: uuid.UUID, slot_id: uuid.UUID) -> None:
        """Drop the counter (the slot's capacity changed): the next request reseeds it."""
        key = self._key(tenant_id, slot_id)
        self._near_full.pop(key, None)
        try:
            async with self._in_flight:
                await self._client.delete(key)
        except Exception as exc:  # noqa: BLE001 - see give_back
            log.warning("booking_gate.unavailable", error=type(exc).__name__)


_GATES: weakref.WeakKeyDictionary[Cache, SeatGate] = weakref.WeakKeyDictionary()


def gate_for(cache: Cache, settings: Settings) -> SeatGate | None:
    """The process's gate over ``cache``'s Redis; None when off or without Redis."""
    if not settings.booking_gate or not isinstance(cache.backend, RedisBackend):
        return None
    gate = _GATES.get(cache)
    if gate is None:
        gate = SeatGate(
            cache.backend.client, prefix=cache.prefix, ttl_seconds=settings.booking_gate_seconds
        )
        _GATES[cache] = gate
    return gate


async def seats_freed(
    cache: Cache, settings: Settings, tenant_id: uuid.UUID, *slot_ids: uuid.UUID
) -> None:
    """After a commit that gave seats back outside booking (an expired hold, a closed
    waitlist offer): one seat back to each slot's counter, when there is a gate."""
    gate = gate_for(cache, settings)
    if gate is not None:
        for slot_id in slot_ids:
            await gate.give_back(tenant_id, slot_id)
