"""Booking's rules through the use cases: who may take which seat, each refusal with its reason."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from tests.registration.conftest import make_facility
from tests.scheduling.booking.support import (
    DAY,
    add_people,
    citizen,
    given,
    live,
    national,
    seats,
    slot,
)
from tests.scheduling.conftest import REGION
from tests.support.clock import tenant_today
from tests.support.tenants import load_tenant
from tests.tenancy.helpers import demo_config
from vaxport.core.audit.models import AuditEntry
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.errors import NotFound, Problem
from vaxport.core.outbox.models import OutboxEvent
from vaxport.scheduling import service
from vaxport.scheduling.booking_schemas import AppointmentIn, RescheduleIn
from vaxport.scheduling.models import Session as SessionRow
from vaxport.scheduling.models import Slot as SlotRow
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


@pytest.fixture
def conf(tmp_path: Any) -> Settings:
    return Settings(env="test", data_dir=tmp_path)


async def _book(
    db: Database,
    cache: Cache,
    conf: Settings,
    tenant: TenantInfo,
    person: uuid.UUID,
    slot_id: uuid.UUID,
    actor: Any = None,
) -> Any:
    return await service.book(
        db=db,
        cache=cache,
        settings=conf,
        tenant=tenant,
        actor=actor or national(tenant),
        body=AppointmentIn(beneficiary_id=person, slot_id=slot_id),
    )


async def _refused(*args: Any, **kwargs: Any) -> Problem:
    with pytest.raises(Problem) as caught:
        await _book(*args, **kwargs)
    return caught.value


async def test_staff_book_a_seat_with_a_random_code_an_event_and_an_audit_entry(
    clean_db: Database, cache: Cache, conf: Settings, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    [person] = await add_people(clean_db, tenant, 1)
    [slot_id] = await slot(clean_db, tenant, centre)
    booked = await _book(clean_db, cache, conf, tenant, person, slot_id)
    assert booked.status == "booked"
    assert (booked.dose_number, booked.series, booked.product_id) == (1, "covid-19", "covid-mrna")
    assert len(booked.booking_code) == 8
    assert await seats(clean_db, tenant.id, [slot_id]) == [1]
    async with clean_db.read(tenant_id=tenant.id) as s:
        events = (await s.scalars(select(OutboxEvent.event_type))).all()
        actions = (await s.scalars(select(AuditEntry.action))).all()
    assert "appointment.booked" in events
    assert "appointment.book" in actions


async def test_a_citizen_books_only_the_people_of_their_own_account(
    clean_db: Database, cache: Cache, conf: Settings, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    [member] = await add_people(clean_db, tenant, 1, account_id=mine)
    [other] = await add_people(clean_db, tenant, 1, account_id=theirs)
    [slot_id] = await slot(clean_db, tenant, centre)
    me = citizen(tenant, mine)
    booked = await _book(clean_db, cache, conf, tenant, member, slot_id, me)
    assert booked.beneficiary_id == member
    with pytest.raises(NotFound):
        await _book(clean_db, cache, conf, tenant, other, slot_id, me)
    assert await seats(clean_db, tenant.id, [slot_id]) == [1]


async def test_a_child_is_refused_as_too_young_with_the_day_they_may_come(
    clean_db: Database, cache: Cache, conf: Settings, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    born = dt.date.today() - dt.timedelta(days=365 * 5)
    [child] = await add_people(clean_db, tenant, 1, birth_date=born)
    [slot_id] = await slot(clean_db, tenant, centre)
    problem = await _refused(clean_db, cache, conf, tenant, child, slot_id)
    body = problem.to_dict()
    assert (problem.status, body["type"].rsplit("/", 1)[1]) == (422, "too-young")
    assert body["errors"][0]["code"] == "too-young"
    assert body["errors"][0]["field"] == "beneficiary_id"
    assert body["earliest"] == body["refusals"][0]["on"]
    assert await seats(clean_db, tenant.id, [slot_id]) == [0]


async def test_dose_two_before_the_products_interval_is_too_early_with_the_earliest_date(
    clean_db: Database, cache: Cache, conf: Settings, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    [person] = await add_people(clean_db, tenant, 1)
    first = DAY - dt.timedelta(days=10)
    await given(clean_db, tenant, centre, person, product_id="covid-mrna", day=first)
    [slot_id] = await slot(clean_db, tenant, centre)
    problem = await _refused(clean_db, cache, conf, tenant, person, slot_id)
    body = problem.to_dict()
    assert body["type"].endswith("/too-early")
    assert problem.status == 422
    assert body["earliest"] == (first + dt.timedelta(days=21)).isoformat()
    assert body["refusals"][0]["dose_number"] == 2
    # On or after the interval, the same person books dose 2.
    [later] = await slot(clean_db, tenant, centre, day=first + dt.timedelta(days=21))
    booked = await _book(clean_db, cache, conf, tenant, person, later)
    assert booked.dose_number == 2


async def test_a_product_that_may_not_follow_the_first_dose_is_the_wrong_sequence(
    clean_db: Database, cache: Cache, conf: Settings
) -> None:
    vaccines = demo_config()["vaccines"]
    for product in vaccines:
        if product["id"] == "covid-protein":
            product["may_follow"] = []
    strict = await load_tenant(clean_db, cache, changes={"vaccines": vaccines})
    centre = await make_facility(clean_db, cache, strict, code="HC-S", region_code=REGION)
    [person] = await add_people(clean_db, strict, 1)
    first = DAY - dt.timedelta(days=30)
    await given(clean_db, strict, centre, person, product_id="covid-mrna", day=first)
    [protein] = await slot(clean_db, strict, centre, product_id="covid-protein")
    problem = await _refused(clean_db, cache, conf, strict, person, protein)
    body = problem.to_dict()
    assert body["type"].endswith("/wrong-product-sequence")
    assert body["refusals"][0]["previous_product"] == "covid-mrna"
    assert body["errors"][0]["field"] == "slot_id"


async def test_a_second_booking_for_the_same_dose_is_already_booked(
    clean_db: Database, cache: Cache, conf: Settings, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    [person] = await add_people(clean_db, tenant, 1)
    [one, two] = await slot(clean_db, tenant, centre, slots=2)
    await _book(clean_db, cache, conf, tenant, person, one)
    problem = await _refused(clean_db, cache, conf, tenant, person, two)
    body = problem.to_dict()
    assert (problem.status, body["type"].rsplit("/", 1)[1]) == (409, "already-booked")
    assert {"already-booked", "person-booking-limit"} <= {r["code"] for r in body["refusals"]}
    assert await seats(clean_db, tenant.id, [one, two]) == [1, 0]


async def test_a_session_for_another_dose_or_a_closed_or_full_slot_is_refused(
    clean_db: Database, cache: Cache, conf: Settings, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    people = await add_people(clean_db, tenant, 3)
    [second_doses] = await slot(clean_db, tenant, centre, dose_numbers=(2,))
    problem = await _refused(clean_db, cache, conf, tenant, people[0], second_doses)
    assert problem.to_dict()["type"].endswith("/dose-not-offered")
    [tiny] = await slot(clean_db, tenant, centre, seats=1)
    await _book(clean_db, cache, conf, tenant, people[0], tiny)
    full = await _refused(clean_db, cache, conf, tenant, people[1], tiny)
    assert (full.status, full.to_dict()["type"]) == (409, "https://vaxport.org/problems/slot-full")
    [past] = await slot(clean_db, tenant, centre, day=tenant_today(tenant) - dt.timedelta(days=1))
    started = await _refused(clean_db, cache, conf, tenant, people[2], past)
    assert started.to_dict()["type"].endswith("/slot-started")
    unknown = await _refused(clean_db, cache, conf, tenant, people[2], uuid.uuid4())
    assert unknown.to_dict()["errors"][0]["code"] == "unknown-slot"


async def test_cancel_frees_the_seat_and_a_citizen_is_held_to_the_cutoff_but_staff_are_not(
    clean_db: Database, cache: Cache, conf: Settings, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    account = uuid.uuid4()
    [member] = await add_people(clean_db, tenant, 1, account_id=account)
    me = citizen(tenant, account)
    [slot_id] = await slot(clean_db, tenant, centre)
    booked = await _book(clean_db, cache, conf, tenant, member, slot_id, me)
    common = {"db": clean_db, "cache": cache, "settings": conf, "tenant": tenant}
    await service.cancel(**common, actor=me, appointment_id=booked.id)
    await service.cancel(**common, actor=me, appointment_id=booked.id)  # again: no change
    assert await seats(clean_db, tenant.id, [slot_id]) == [0]
    # An appointment starting within the cutoff (2 hours in the demo).
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    late_id = await given(
        clean_db, tenant, centre, member, product_id="covid-mrna", day=soon.date(),
        status="booked",
    )  # fmt: skip
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        from vaxport.scheduling.models import Appointment

        row = await uow.session.get(Appointment, late_id)
        assert row is not None
        row.account_id = account
        row.starts_at = soon
    with pytest.raises(Problem) as caught:
        await service.cancel(**common, actor=me, appointment_id=late_id)
    assert caught.value.to_dict()["type"].endswith("/cancel-cutoff-passed")
    await service.cancel(**common, actor=national(tenant), appointment_id=late_id)
    got = await service.get_appointment(
        db=clean_db, tenant=tenant, actor=me, appointment_id=late_id
    )
    assert got.status == "cancelled"


async def test_reschedule_moves_the_seat_or_keeps_the_old_one_when_the_new_slot_is_full(
    clean_db: Database, cache: Cache, conf: Settings, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    people = await add_people(clean_db, tenant, 2)
    [a, b] = await slot(clean_db, tenant, centre, slots=2, seats=1)
    first = await _book(clean_db, cache, conf, tenant, people[0], a)
    common = {"db": clean_db, "cache": cache, "settings": conf, "tenant": tenant}
    moved = await service.reschedule(
        **common, actor=national(tenant), appointment_id=first.id, body=RescheduleIn(slot_id=b)
    )
    assert (moved.slot_id, moved.replaces_id, moved.dose_number) == (b, first.id, 1)
    assert await seats(clean_db, tenant.id, [a, b]) == [0, 1]
    # Back to a, now taken by someone else: refused, and b stays booked.
    await _book(clean_db, cache, conf, tenant, people[1], a)
    with pytest.raises(Problem) as caught:
        await service.reschedule(
            **common, actor=national(tenant), appointment_id=moved.id, body=RescheduleIn(slot_id=a)
        )
    assert caught.value.to_dict()["type"].endswith("/slot-full")
    assert await seats(clean_db, tenant.id, [a, b]) == [1, 1]
    assert await live(clean_db, tenant.id, [a, b]) == [1, 1]
    old = await service.get_appointment(
        db=clean_db, tenant=tenant, actor=national(tenant), appointment_id=first.id
    )
    assert (old.status, old.ended_reason) == ("cancelled", "rescheduled")


async def test_a_session_released_by_draw_takes_no_first_come_booking_until_drawn(
    clean_db: Database, cache: Cache, conf: Settings, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    person = (await add_people(clean_db, tenant, 1))[0]
    early = await slot(clean_db, tenant, centre)
    during = await slot(clean_db, tenant, centre)
    now = dt.datetime.now(dt.UTC)
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        for slot_ids, release_at in ((early, now + dt.timedelta(hours=1)), (during, now)):
            row = await uow.session.get(SlotRow, slot_ids[0])
            assert row is not None
            session = await uow.session.get(SessionRow, row.session_id)
            assert session is not None
            session.release_at = release_at

    not_yet = await _refused(clean_db, cache, conf, tenant, person, early[0])
    assert not_yet.to_dict()["type"].endswith("/not-released-yet")
    queued = await _refused(clean_db, cache, conf, tenant, person, during[0])
    assert (queued.status, queued.to_dict()["type"]) == (
        409,
        "https://vaxport.org/problems/in-release-queue",
    )
    assert await seats(clean_db, tenant.id, [early[0], during[0]]) == [0, 0]
