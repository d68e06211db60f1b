"""No overbooking and no lost seat under real concurrency (PostgreSQL, Redis, SQLite).

500 people ask for a slot of 50 at once: exactly 50 appointments, 450 ``slot-full``, and
the slot's counter equals its live rows, with the Redis gate in front (PostgreSQL +
Redis leg), with the database alone, and on the embedded default (SQLite). People swap
between two slots by 50 concurrent reschedules: no seat is lost or doubled.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from tests.conftest import PG_URL, REDIS_URL
from tests.scheduling.booking.support import add_people, live, national, seats, slot
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.errors import Problem
from vaxport.scheduling import service
from vaxport.scheduling.booking_schemas import AppointmentIn, RescheduleIn
from vaxport.scheduling.models import Appointment
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

PEOPLE, SEATS = 500, 50


def _settings(tmp_path: Path, *, gate: bool) -> Settings:
    return Settings(env="test", data_dir=tmp_path, booking_gate=gate)


@pytest.fixture(
    params=[
        pytest.param(True, id="redis-gate"),
        pytest.param(False, id="database-only"),
    ]
)
def gate(request: pytest.FixtureRequest) -> bool:
    """With the Redis gate in front of the database, or the database alone."""
    if request.param and not REDIS_URL:
        pytest.skip("the gate needs Redis (VAXPORT_TEST_REDIS_URL); the database-only run covers")
    return bool(request.param)


async def _outcome(call: Any) -> str:
    try:
        await call
    except Problem as problem:
        return problem.slug
    return "booked"


async def test_500_people_racing_for_50_seats_book_exactly_50(
    clean_db: Database,
    cache: Cache,
    tenant: TenantInfo,
    centre: uuid.UUID,
    tmp_path: Path,
    gate: bool,
) -> None:
    conf = _settings(tmp_path, gate=gate)
    people = await add_people(clean_db, tenant, PEOPLE)
    [slot_id] = await slot(clean_db, tenant, centre, seats=SEATS)
    actor = national(tenant)

    def one(person: uuid.UUID) -> Any:
        body = AppointmentIn(beneficiary_id=person, slot_id=slot_id)
        return service.book(
            db=clean_db, cache=cache, settings=conf, tenant=tenant, actor=actor, body=body
        )

    outcomes = Counter(await asyncio.gather(*(_outcome(one(p)) for p in people)))
    assert outcomes == {"booked": SEATS, "slot-full": PEOPLE - SEATS}
    assert await seats(clean_db, tenant.id, [slot_id]) == [SEATS]
    assert await live(clean_db, tenant.id, [slot_id]) == [SEATS]
    async with clean_db.read(tenant_id=tenant.id) as s:
        codes = await s.scalar(select(func.count(func.distinct(Appointment.booking_code))))
    assert codes == SEATS


@pytest.mark.skipif(not (PG_URL and REDIS_URL), reason="the gate is measured on PostgreSQL+Redis")
async def test_the_gate_turns_away_a_full_slot_without_asking_the_database(
    clean_db: Database, cache: Cache, tenant: TenantInfo, centre: uuid.UUID, tmp_path: Path
) -> None:
    conf = _settings(tmp_path, gate=True)
    people = await add_people(clean_db, tenant, 23)
    [slot_id] = await slot(clean_db, tenant, centre, seats=3)
    actor = national(tenant)

    async def book(person: uuid.UUID) -> str:
        body = AppointmentIn(beneficiary_id=person, slot_id=slot_id)
        return await _outcome(
            service.book(
                db=clean_db, cache=cache, settings=conf, tenant=tenant, actor=actor, body=body
            )
        )

    assert [await book(p) for p in people[:3]] == ["booked"] * 3
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(clean_db.engine.sync_engine, "before_cursor_execute", count)
    try:
        turned_away = await asyncio.gather(*(book(p) for p in people[3:]))
    finally:
        event.remove(clean_db.engine.sync_engine, "before_cursor_execute", count)
    assert turned_away == ["slot-full"] * 20
    assert statements == []
    # A cancellation gives the seat back to the gate: the next person gets it.
    async with clean_db.read(tenant_id=tenant.id) as s:
        first = await s.scalar(select(Appointment.id).where(Appointment.slot_id == slot_id))
    assert first is not None
    await service.cancel(
        db=clean_db, cache=cache, settings=conf, tenant=tenant, actor=actor, appointment_id=first
    )
    await asyncio.sleep(0.3)  # past this process's note that the slot was full
    assert await book(people[3]) == "booked"
    assert await book(people[4]) == "slot-full"
    assert await seats(clean_db, tenant.id, [slot_id]) == [3]


async def test_the_gate_is_reseeded_from_the_database_when_its_counter_is_lost(
    clean_db: Database, cache: Cache, tenant: TenantInfo, centre: uuid.UUID, tmp_path: Path
) -> None:
    conf = _settings(tmp_path, gate=True)
    people = await add_people(clean_db, tenant, 3)
    [slot_id] = await slot(clean_db, tenant, centre, seats=2)
    actor = national(tenant)
    common = {"db": clean_db, "cache": cache, "settings": conf, "tenant": tenant, "actor": actor}
    await service.book(**common, body=AppointmentIn(beneficiary_id=people[0], slot_id=slot_id))
    if REDIS_URL:
        await cache.backend.client.delete(f"{cache.prefix}:seats:{tenant.id}:{slot_id}")  # type: ignore[attr-defined]
    await service.book(**common, body=AppointmentIn(beneficiary_id=people[1], slot_id=slot_id))
    assert (
        await _outcome(
            service.book(**common, body=AppointmentIn(beneficiary_id=people[2], slot_id=slot_id))
        )
        == "slot-full"
    )
    assert await seats(clean_db, tenant.id, [slot_id]) == [2]


async def test_50_concurrent_reschedules_between_two_slots_lose_and_double_no_seat(
    clean_db: Database,
    cache: Cache,
    tenant: TenantInfo,
    centre: uuid.UUID,
    tmp_path: Path,
    gate: bool,
) -> None:
    conf = _settings(tmp_path, gate=gate)
    people = await add_people(clean_db, tenant, 50)
    a, b = await slot(clean_db, tenant, centre, slots=2, seats=30)
    actor = national(tenant)
    common = {"db": clean_db, "cache": cache, "settings": conf, "tenant": tenant, "actor": actor}
    booked = []
    for n, person in enumerate(people):
        body = AppointmentIn(beneficiary_id=person, slot_id=a if n % 2 else b)
        booked.append(await service.book(**common, body=body))
    assert await seats(clean_db, tenant.id, [a, b]) == [25, 25]

    def move(appointment: Any) -> Any:
        to = b if appointment.slot_id == a else a
        return service.reschedule(
            **common, appointment_id=appointment.id, body=RescheduleIn(slot_id=to)
        )

    outcomes = Counter(await asyncio.gather(*(_outcome(move(x)) for x in booked)))
    assert set(outcomes) <= {"booked", "slot-full"}
    assert outcomes["booked"] >= 10  # 5 free seats each way to start with, then more
    counters = await seats(clean_db, tenant.id, [a, b])
    assert counters == await live(clean_db, tenant.id, [a, b])
    assert sum(counters) == 50
    assert max(counters) <= 30
    async with clean_db.read(tenant_id=tenant.id) as s:
        per_person = Counter(
            (
                await s.scalars(
                    select(Appointment.beneficiary_id).where(Appointment.status == "booked")
                )
            ).all()
        )
    assert set(per_person) == set(people)
    assert set(per_person.values()) == {1}


async def test_one_person_booked_20_times_at_once_holds_one_seat(
    clean_db: Database,
    cache: Cache,
    tenant: TenantInfo,
    centre: uuid.UUID,
    tmp_path: Path,
    gate: bool,
) -> None:
    conf = _settings(tmp_path, gate=gate)
    [person] = await add_people(clean_db, tenant, 1)
    slots = await slot(clean_db, tenant, centre, slots=20, seats=5)
    common = {
        "db": clean_db,
        "cache": cache,
        "settings": conf,
        "tenant": tenant,
        "actor": national(tenant),
    }
    outcomes = Counter(
        await asyncio.gather(
            *(
                _outcome(
                    service.book(**common, body=AppointmentIn(beneficiary_id=person, slot_id=s))
                )
                for s in slots
            )
        )
    )
    assert outcomes == {"booked": 1, "already-booked": 19}
    assert sum(await seats(clean_db, tenant.id, slots)) == 1
    assert sum(await live(clean_db, tenant.id, slots)) == 1
