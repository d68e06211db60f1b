"""Tickets, waitlist places and offers meet booking's own check, and one limit counts all."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.identity.helpers import actor_for
from tests.registration.conftest import make_facility
from tests.scheduling.booking.support import given
from tests.scheduling.conftest import REGION
from tests.scheduling.fairness.support import people, released_session
from tests.scheduling.seed import open_session
from tests.support.tenants import load_tenant
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.errors import Problem, error_code
from vaxport.scheduling import holds
from vaxport.scheduling.booking_schemas import AppointmentIn
from vaxport.scheduling.models import Appointment, WaitlistEntry
from vaxport.scheduling.service import (
    NotEligible,
    WaitlistIn,
    book,
    join_waitlist,
    request_ticket,
)
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

TODAY = dt.date.today()
# covid-mrna's dose 2 comes 21 days after dose 1 at the earliest (the demo's file).
FIRST = TODAY - dt.timedelta(days=5)
SECOND_DUE = FIRST + dt.timedelta(days=21)
BOOKING = {"days_ahead": 28, "cancel_cutoff_hours": 2, "slot_minutes": 10}


def _place(person: uuid.UUID, product_id: str = "covid-mrna") -> WaitlistIn:
    return WaitlistIn.model_validate(
        {
            "beneficiary_id": str(person),
            "region_code": "NOR",
            "from": TODAY.isoformat(),
            "to": (TODAY + dt.timedelta(days=27)).isoformat(),
            "product_id": product_id,
        }
    )


async def _ticket_refusals(
    db: Database, tenant: TenantInfo, session_id: uuid.UUID, person: uuid.UUID
) -> list[tuple[str, str]]:
    """``(field, code)`` of each reason a ticket is refused."""
    admin = actor_for(tenant, "national_admin")
    with pytest.raises(NotEligible) as refused:
        await request_ticket(db=db, tenant=tenant, actor=admin, session_id=session_id,
                             beneficiary_id=person)  # fmt: skip
    return [(e["field"], error_code(e)) for e in refused.value.errors]


async def _book_refusal(
    db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    person: uuid.UUID,
    slot_id: uuid.UUID,
) -> Problem:
    admin = actor_for(tenant, "national_admin")
    body = AppointmentIn(beneficiary_id=person, slot_id=slot_id)
    with pytest.raises(Problem) as refused:
        await book(db=db, cache=cache, settings=settings, tenant=tenant, actor=admin, body=body)
    return refused.value


async def test_after_a_completed_dose_one_a_ticket_is_for_dose_two_once_its_interval_allows(
    clean_db: Database, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    [person] = await people(clean_db, tenant, 1)
    await given(clean_db, tenant, centre, person, product_id="covid-mrna", day=FIRST)
    too_soon = await released_session(clean_db, tenant, centre, day=SECOND_DUE - dt.timedelta(1))
    dose_one = await released_session(clean_db, tenant, centre, day=SECOND_DUE, dose_numbers=(1,))
    dose_two = await released_session(clean_db, tenant, centre, day=SECOND_DUE, dose_numbers=(2,))

    assert await _ticket_refusals(clean_db, tenant, too_soon.session_id, person) == [
        ("session_id", "too-early")
    ]
    assert await _ticket_refusals(clean_db, tenant, dose_one.session_id, person) == [
        ("session_id", "dose-not-offered")
    ]
    admin = actor_for(tenant, "national_admin")
    ticket = await request_ticket(
        db=clean_db, tenant=tenant, actor=admin, session_id=dose_two.session_id,
        beneficiary_id=person,
    )  # fmt: skip
    assert ticket.status == "waiting"


async def test_an_offer_after_a_completed_dose_one_waits_for_a_dose_two_seat_after_the_interval(
    clean_db: Database, cache: Cache, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    [person] = await people(clean_db, tenant, 1)
    await given(clean_db, tenant, centre, person, product_id="covid-mrna", day=FIRST)
    admin = actor_for(tenant, "national_admin")
    # Too early today, but dose 2 falls due within the place's days: the place is taken.
    entry = await join_waitlist(db=clean_db, tenant=tenant, actor=admin, body=_place(person))

    async def offer(day: dt.date, doses: tuple[int, ...]) -> int:
        seeded = await open_session(
            clean_db, tenant.id, centre, region_code=REGION, day=day, dose_numbers=doses, seats=1
        )
        return await holds.offer_seats(
            db=clean_db, cache=cache, tenant=tenant, slot_ids=seeded.slot_ids
        )

    # Neither a seat before the interval nor a session of dose 1 only: the place waits on.
    assert await offer(SECOND_DUE - dt.timedelta(days=1), (1, 2)) == 0
    assert await offer(SECOND_DUE, (1,)) == 0
    async with clean_db.read(tenant_id=tenant.id) as s:
        row = await s.get(WaitlistEntry, entry.id)
        assert row is not None
        assert (row.status, row.appointment_id) == ("waiting", None)
    assert await offer(SECOND_DUE, (2,)) == 1
    async with clean_db.read(tenant_id=tenant.id) as s:
        row = await s.get(WaitlistEntry, entry.id)
        assert row is not None
        assert row.status == "offered"
        held = await s.get(Appointment, row.appointment_id)
        assert held is not None
        assert (held.status, held.dose_number, held.day) == ("held", 2, SECOND_DUE)


async def test_booking_counts_waiting_tickets_and_places_toward_the_limits(
    clean_db: Database, cache: Cache, settings: Settings
) -> None:
    limits = {"live_per_person": 1, "live_per_account": 3}
    strict = await load_tenant(clean_db, cache, changes={"booking": {**BOOKING, "limits": limits}})
    here = await make_facility(clean_db, cache, strict, code="S-1", region_code=REGION)
    account = uuid.uuid4()
    with_ticket, with_place, third, fourth = await people(clean_db, strict, 4, account_id=account)
    admin = actor_for(strict, "national_admin")
    released = await released_session(clean_db, strict, here)
    await request_ticket(db=clean_db, tenant=strict, actor=admin,
                         session_id=released.session_id, beneficiary_id=with_ticket)  # fmt: skip
    await join_waitlist(db=clean_db, tenant=strict, actor=admin, body=_place(with_place))
    seeded = await open_session(
        clean_db, strict.id, here, region_code=REGION, day=TODAY + dt.timedelta(days=3)
    )
    [slot_id] = seeded.slot_ids

    for person in (with_ticket, with_place):
        refused = await _book_refusal(clean_db, cache, settings, strict, person, slot_id)
        assert refused.status == 409
        assert [r["code"] for r in refused.extra["refusals"]] == ["person-booking-limit"]
    # The family's third holding is an appointment; the fourth is refused for the account.
    body = AppointmentIn(beneficiary_id=third, slot_id=slot_id)
    await book(db=clean_db, cache=cache, settings=settings, tenant=strict, actor=admin, body=body)
    refused = await _book_refusal(clean_db, cache, settings, strict, fourth, slot_id)
    assert [r["code"] for r in refused.extra["refusals"]] == ["account-booking-limit"]


async def test_appointments_tickets_and_places_of_one_person_are_capped_alike_wherever_asked(
    clean_db: Database, cache: Cache, settings: Settings
) -> None:
    limits = {"live_per_person": 3}
    roomy = await load_tenant(clean_db, cache, changes={"booking": {**BOOKING, "limits": limits}})
    here = await make_facility(clean_db, cache, roomy, code="R-1", region_code=REGION)
    admin = actor_for(roomy, "national_admin")
    [person] = await people(clean_db, roomy, 1)
    day = TODAY + dt.timedelta(days=3)
    mmr = await open_session(clean_db, roomy.id, here, region_code=REGION, day=day,
                             product_id="mmr")  # fmt: skip
    body = AppointmentIn(beneficiary_id=person, slot_id=mmr.slot_ids[0])
    await book(db=clean_db, cache=cache, settings=settings, tenant=roomy, actor=admin, body=body)
    released = await released_session(clean_db, roomy, here)
    await request_ticket(db=clean_db, tenant=roomy, actor=admin,
                         session_id=released.session_id, beneficiary_id=person)  # fmt: skip
    protein = _place(person, "covid-protein")
    await join_waitlist(db=clean_db, tenant=roomy, actor=admin, body=protein)

    # Three held: a booking, a ticket and a place are each refused for the same reason.
    mrna = await open_session(clean_db, roomy.id, here, region_code=REGION, day=day)
    refused = await _book_refusal(clean_db, cache, settings, roomy, person, mrna.slot_ids[0])
    assert [r["code"] for r in refused.extra["refusals"]] == ["person-booking-limit"]
    other = await released_session(clean_db, roomy, here, day=day + dt.timedelta(days=1))
    assert await _ticket_refusals(clean_db, roomy, other.session_id, person) == [
        ("beneficiary_id", "person-booking-limit")
    ]
    with pytest.raises(NotEligible) as waiting:
        await join_waitlist(db=clean_db, tenant=roomy, actor=admin, body=_place(person))
    assert [error_code(e) for e in waiting.value.errors] == ["person-booking-limit"]
