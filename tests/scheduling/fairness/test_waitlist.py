"""The waitlist: a freed seat is held for the first waiting person, then the next."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.identity.helpers import actor_for
from tests.registration.conftest import Person, citizen_token, staff_token
from tests.registration.review.review_support import audit_actions
from tests.scheduling.conftest import REGION
from tests.scheduling.fairness.support import (
    DAY,
    HOLD,
    WINDOW,
    appointment,
    deliver,
    people,
    released_session,
    seats_and_owners,
)
from tests.scheduling.seed import open_session
from tests.support.clock import tenant_today
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.scheduling import hold_expiry, holds
from vaxport.scheduling.appointments import Seat, book_in, end
from vaxport.scheduling.availability import NAMESPACE
from vaxport.scheduling.events import APPOINTMENT_CANCELLED, SESSION_PUBLISHED, session_event
from vaxport.scheduling.fairness import jobs
from vaxport.scheduling.models import Appointment, WaitlistEntry
from vaxport.scheduling.service import HoldExpired, WaitlistIn, accept_offer, join_waitlist
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


def url(tenant: TenantInfo, suffix: str = "") -> str:
    return f"/api/v1/{tenant.code}{suffix}"


def place(person: uuid.UUID, **changes: Any) -> dict[str, Any]:
    body = {
        "beneficiary_id": str(person),
        "region_code": "NOR",
        "from": dt.date.today().isoformat(),
        "to": (DAY + dt.timedelta(days=2)).isoformat(),
        "product_id": "covid-mrna",
    }
    body.update(changes)
    return body


async def _book(
    db: Database, tenant: TenantInfo, slot: uuid.UUID, person: uuid.UUID
) -> Appointment:
    async with db.transaction(tenant_id=tenant.id) as uow:
        row = await book_in(uow, tenant.id, slot, Seat(person, None, "covid-19", 1, None))
    assert row is not None
    return row


async def _cancel(db: Database, tenant: TenantInfo, row: Appointment) -> None:
    """As booking cancels: the appointment core ends it and emits the event."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        assert await end(uow, row, "cancelled", event=APPOINTMENT_CANCELLED)


async def _family(db: Database, settings: Settings, tenant: TenantInfo) -> tuple[Person, uuid.UUID]:
    citizen = await citizen_token(db, settings, tenant)
    [member] = await people(db, tenant, 1, account_id=citizen.id)
    return citizen, member


async def _places(
    client: httpx.AsyncClient, tenant: TenantInfo, who: Person
) -> list[dict[str, Any]]:
    r = await client.get(url(tenant, "/waitlist"), headers=who.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_a_cancellation_offers_the_seat_and_an_unanswered_hold_passes_to_the_next(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    seeded = await open_session(clean_db, tenant.id, centre, region_code=REGION, day=DAY, seats=1)
    [holder] = await people(clean_db, tenant, 1)
    taken = await _book(clean_db, tenant, seeded.slot_ids[0], holder)
    alice, alice_member = await _family(clean_db, settings, tenant)
    bob, bob_member = await _family(clean_db, settings, tenant)
    for who, member in ((alice, alice_member), (bob, bob_member)):
        r = await client.post(url(tenant, "/waitlist"), json=place(member), headers=who.headers)
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "waiting"
        assert r.json()["from"] == dt.date.today().isoformat()
    await deliver(clean_db, cache, settings)
    assert (await _places(client, tenant, alice))[0]["status"] == "waiting"

    await _cancel(clean_db, tenant, taken)
    await deliver(clean_db, cache, settings)
    [offered] = await _places(client, tenant, alice)
    assert offered["status"] == "offered"
    held = await appointment(clean_db, tenant, uuid.UUID(offered["appointment_id"]))
    assert held.status == "held"
    assert held.beneficiary_id == alice_member
    assert offered["hold_expires_at"] is not None
    assert (await _places(client, tenant, bob))[0]["status"] == "waiting"
    assert await seats_and_owners(clean_db, tenant, seeded.slot_ids) == (1, 1)

    # Alice does not answer: the job ends her hold, and the seat goes to Bob.
    later = utcnow() + HOLD + dt.timedelta(minutes=1)
    # As the worker's job does it: with no cache, the event's subscriber makes search stale.
    assert await hold_expiry.expire_holds(db=clean_db, cache=None, tenant=tenant, now=later) == 1
    lapsed = await appointment(clean_db, tenant, held.id)
    assert (lapsed.status, lapsed.ended_reason) == ("released", "hold_expired")
    assert (await _places(client, tenant, alice))[0]["status"] == "lapsed"
    before = await cache.get(NAMESPACE, str(tenant.id))
    await deliver(clean_db, cache, settings)
    assert await cache.get(NAMESPACE, str(tenant.id)) not in (None, before)
    [bobs] = await _places(client, tenant, bob)
    assert bobs["status"] == "offered"

    too_late = await client.post(
        url(tenant, f"/appointments/{held.id}/accept"), headers=alice.headers
    )
    assert too_late.status_code == 409
    assert too_late.json()["type"].endswith("hold-expired")
    accepted = await client.post(
        url(tenant, f"/appointments/{bobs['appointment_id']}/accept"), headers=bob.headers
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "booked"
    assert len(accepted.json()["booking_code"]) == 8
    again = await client.post(
        url(tenant, f"/appointments/{bobs['appointment_id']}/accept"), headers=bob.headers
    )
    assert again.json() == accepted.json()
    assert (await _places(client, tenant, bob))[0]["status"] == "booked"
    assert await seats_and_owners(clean_db, tenant, seeded.slot_ids) == (1, 1)
    assert "appointment.accept_offer" in await audit_actions(clean_db, tenant, bob_member)


async def test_an_offer_cannot_be_accepted_once_its_hold_ended_even_before_the_job_ran(
    clean_db: Database, cache: Cache, settings: Settings, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    seeded = await open_session(clean_db, tenant.id, centre, region_code=REGION, day=DAY, seats=1)
    citizen, member = await _family(clean_db, settings, tenant)
    me = actor_for(tenant, "citizen", kind="citizen", account_id=citizen.id)
    await join_waitlist(
        db=clean_db, tenant=tenant, actor=me, body=WaitlistIn.model_validate(place(member))
    )
    assert (
        await holds.offer_seats(db=clean_db, cache=cache, tenant=tenant, slot_ids=seeded.slot_ids)
        == 1
    )
    async with clean_db.read(tenant_id=tenant.id) as s:
        held = await s.scalar(select(Appointment).where(Appointment.status == "held"))
        assert held is not None
        s.expunge(held)
    expired = utcnow() + HOLD + dt.timedelta(seconds=1)
    with pytest.raises(HoldExpired):
        await accept_offer(
            db=clean_db, tenant=tenant, actor=me, appointment_id=held.id, now=expired
        )
    assert (await appointment(clean_db, tenant, held.id)).status == "held"  # the job ends it


async def test_the_next_place_whose_person_may_have_the_seat_gets_it(
    clean_db: Database, cache: Cache, settings: Settings, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    seeded = await open_session(clean_db, tenant.id, centre, region_code=REGION, day=DAY, seats=2)
    other = await open_session(
        clean_db, tenant.id, centre, region_code=REGION, day=DAY + dt.timedelta(days=1)
    )
    admin = actor_for(tenant, "national_admin")
    first, second = await people(clean_db, tenant, 2)
    for person in (first, second):
        await join_waitlist(
            db=clean_db, tenant=tenant, actor=admin, body=WaitlistIn.model_validate(place(person))
        )
    # The first person books elsewhere meanwhile: they can never have this seat now.
    await _book(clean_db, tenant, other.slot_ids[0], first)
    made = await holds.offer_seats(
        db=clean_db, cache=cache, tenant=tenant, slot_ids=seeded.slot_ids
    )
    assert made == 1  # two seats, one person who may have one
    async with clean_db.read(tenant_id=tenant.id) as s:
        rows = dict(
            (await s.execute(select(WaitlistEntry.beneficiary_id, WaitlistEntry.status))).all()
        )
        reason = await s.scalar(
            select(WaitlistEntry.ended_reason).where(WaitlistEntry.beneficiary_id == first)
        )
    assert rows == {first: "closed", second: "offered"}
    assert reason == "already-booked"


async def test_two_workers_offering_one_freed_seat_hold_it_once(
    clean_db: Database, cache: Cache, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    seeded = await open_session(clean_db, tenant.id, centre, region_code=REGION, day=DAY, seats=3)
    booked = [
        await _book(clean_db, tenant, seeded.slot_ids[0], p)
        for p in await people(clean_db, tenant, 3)
    ]
    admin = actor_for(tenant, "national_admin")
    for person in await people(clean_db, tenant, 4):
        await join_waitlist(
            db=clean_db, tenant=tenant, actor=admin, body=WaitlistIn.model_validate(place(person))
        )
    await _cancel(clean_db, tenant, booked[0])

    async def one() -> int:
        return await holds.offer_seats(
            db=clean_db, cache=cache, tenant=tenant, slot_ids=seeded.slot_ids
        )

    assert sum(await asyncio.gather(one(), one(), one())) == 1
    assert await seats_and_owners(clean_db, tenant, seeded.slot_ids) == (3, 3)


async def test_joining_refuses_bad_requests_and_people_who_cannot_wait(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    citizen, member = await _family(clean_db, settings, tenant)
    [baby] = await people(clean_db, tenant, 1, account_id=citizen.id, birth_date=dt.date.today())
    today = tenant_today(tenant)
    cases = [
        (place(member, region_code="ATLANTIS"), 422, "region_code"),
        (place(member, product_id="elixir"), 422, "product_id"),
        (place(member, to=(today - dt.timedelta(days=1)).isoformat()), 422, "to"),
        (
            place(
                member,
                **{"from": (today + dt.timedelta(days=5)).isoformat(), "to": today.isoformat()},
            ),
            422,
            "to",
        ),
        (place(member, to=(today + dt.timedelta(days=400)).isoformat()), 422, "to"),
        (place(member, to="soon"), 422, "to"),
        ({**place(member), "priority": 1}, 422, "priority"),
        (place(uuid.uuid4()), 404, None),
    ]
    for body, status, field in cases:
        r = await client.post(url(tenant, "/waitlist"), json=body, headers=citizen.headers)
        assert r.status_code == status, (body, r.text)
        if field:
            assert field in [e["field"] for e in r.json()["errors"]], r.json()
    young = await client.post(url(tenant, "/waitlist"), json=place(baby), headers=citizen.headers)
    assert young.status_code == 422
    assert {e["code"] for e in young.json()["errors"]} >= {"too-young"}
    ok = await client.post(url(tenant, "/waitlist"), json=place(member), headers=citizen.headers)
    assert ok.status_code == 201
    twice = await client.post(url(tenant, "/waitlist"), json=place(member), headers=citizen.headers)
    assert twice.status_code == 409
    assert twice.json()["type"].endswith("already-waiting")
    # A live place counts toward booking.limits (one per person in the demo).
    other = await client.post(
        url(tenant, "/waitlist"), json=place(member, product_id="mmr"), headers=citizen.headers
    )
    assert other.status_code == 422
    assert [e["code"] for e in other.json()["errors"]] == ["person-booking-limit"]
    assert [p["status"] for p in await _places(client, tenant, citizen)] == ["waiting"]


async def test_places_are_seen_by_their_family_and_staff_in_reach_and_leaving_passes_the_seat_on(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    seeded = await open_session(clean_db, tenant.id, centre, region_code=REGION, day=DAY, seats=1)
    alice, alice_member = await _family(clean_db, settings, tenant)
    bob, bob_member = await _family(clean_db, settings, tenant)
    for who, member in ((alice, alice_member), (bob, bob_member)):
        assert (
            await client.post(url(tenant, "/waitlist"), json=place(member), headers=who.headers)
        ).status_code == 201
    north = await staff_token(client, clean_db, settings, tenant, "region_admin", region_code="NOR")
    south = await staff_token(client, clean_db, settings, tenant, "region_admin", region_code="SOU")
    assert [p["beneficiary_id"] for p in await _places(client, tenant, alice)] == [
        str(alice_member)
    ]
    assert len(await _places(client, tenant, north)) == 2
    assert await _places(client, tenant, south) == []
    assert "waitlist.list" in await audit_actions(clean_db, tenant, alice_member)

    await session_published(clean_db, tenant, seeded.session_id)
    await deliver(clean_db, cache, settings)  # the new session's seat goes to Alice
    [mine] = await _places(client, tenant, alice)
    assert mine["status"] == "offered"
    gone = await client.delete(url(tenant, f"/waitlist/{mine['id']}"), headers=bob.headers)
    assert gone.status_code == 404
    left = await client.delete(url(tenant, f"/waitlist/{mine['id']}"), headers=alice.headers)
    assert left.status_code == 204
    assert (
        await appointment(clean_db, tenant, uuid.UUID(mine["appointment_id"]))
    ).status == "cancelled"
    await deliver(clean_db, cache, settings)
    assert (await _places(client, tenant, alice))[0]["status"] == "cancelled"
    assert (await _places(client, tenant, bob))[0]["status"] == "offered"
    again = await client.delete(url(tenant, f"/waitlist/{mine['id']}"), headers=alice.headers)
    assert again.status_code == 204  # nothing left to change
    assert await seats_and_owners(clean_db, tenant, seeded.slot_ids) == (1, 1)


async def session_published(db: Database, tenant: TenantInfo, session_id: uuid.UUID) -> None:
    """As the sessions service emits it once a session is published."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        await session_event(uow, SESSION_PUBLISHED, session_id)


async def test_a_released_session_offers_nothing_to_the_waitlist_before_its_draw(
    clean_db: Database, cache: Cache, settings: Settings, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    # Its window closed a moment ago; the draw has not run yet.
    closed = utcnow() - WINDOW - dt.timedelta(seconds=10)
    seeded = await released_session(clean_db, tenant, centre, seats=2, release_at=closed)
    admin = actor_for(tenant, "national_admin")
    [person] = await people(clean_db, tenant, 1)
    await join_waitlist(
        db=clean_db, tenant=tenant, actor=admin, body=WaitlistIn.model_validate(place(person))
    )
    await session_published(clean_db, tenant, seeded.session_id)
    await deliver(clean_db, cache, settings)
    assert await seats_and_owners(clean_db, tenant, seeded.slot_ids) == (0, 0)
    # The draw (no tickets) opens it: its seats left over go to the waitlist first.
    assert (await jobs.run_once(db=clean_db, cache=cache)).drawn == 1
    await deliver(clean_db, cache, settings)
    assert await seats_and_owners(clean_db, tenant, seeded.slot_ids) == (1, 1)


async def test_places_whose_days_have_passed_are_closed(
    clean_db: Database, cache: Cache, settings: Settings, tenant: TenantInfo
) -> None:
    admin = actor_for(tenant, "national_admin")
    [person] = await people(clean_db, tenant, 1)
    await join_waitlist(
        db=clean_db, tenant=tenant, actor=admin, body=WaitlistIn.model_validate(place(person))
    )
    soon = utcnow() + dt.timedelta(days=2)
    assert await hold_expiry.close_passed(db=clean_db, tenant=tenant, now=soon) == 0
    later = utcnow() + dt.timedelta(days=30)
    assert await hold_expiry.close_passed(db=clean_db, tenant=tenant, now=later) == 1
