"""Closing a session's attendance: exactly the people still booked become no-shows, once."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import httpx

from tests.identity.helpers import actor_for
from tests.registration.conftest import Person, citizen_token, staff_token
from tests.registration.review.review_support import events
from tests.scheduling.attendance.support import (
    audited,
    book,
    cancel,
    seats_taken,
    session_status,
    session_today,
    statuses,
    today,
)
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.scheduling.service import close_session_attendance, complete_appointment
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


def _close(tenant: TenantInfo, session_id: uuid.UUID) -> str:
    return f"/api/v1/{tenant.code}/sessions/{session_id}/attendance/close"


def _complete(tenant: TenantInfo, appointment_id: uuid.UUID) -> str:
    return f"/api/v1/{tenant.code}/appointments/{appointment_id}/complete"


async def test_closing_marks_exactly_the_still_booked_as_no_shows_and_a_retry_marks_none(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
) -> None:
    seeded = await session_today(clean_db, tenant, centre)
    other = await session_today(clean_db, tenant, centre)
    slot = seeded.slot_ids[0]
    missed = [await book(clean_db, tenant, slot, given_name=n) for n in ("Ann", "Ben")]
    missed.append(await book(clean_db, tenant, seeded.slot_ids[1], given_name="Cy"))
    seen = await book(clean_db, tenant, slot, given_name="Seen")
    gone = await book(clean_db, tenant, slot, given_name="Gone")
    elsewhere_today = await book(clean_db, tenant, other.slot_ids[0], given_name="Other")
    await cancel(clean_db, tenant, gone.appointment_id)
    done = await client.post(_complete(tenant, seen.appointment_id), headers=vaccinator.headers)
    assert done.status_code == 200

    r = await client.post(_close(tenant, seeded.session_id), headers=vaccinator.headers)

    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["marked_no_show"]) == ("closed", 3)
    assert (body["booked"], body["completed"], body["no_show"]) == (0, 1, 3)
    assert body["closed_at"] is not None
    now = await statuses(clean_db, tenant)
    assert {b.appointment_id for b in missed} == {k for k, v in now.items() if v == "no_show"}
    assert now[seen.appointment_id] == "completed"
    assert now[gone.appointment_id] == "cancelled"
    assert now[elsewhere_today.appointment_id] == "booked"  # another session of the day
    assert await session_status(clean_db, tenant, seeded.session_id) == "closed"
    assert await session_status(clean_db, tenant, other.session_id) == "open"
    assert (
        await seats_taken(clean_db, tenant, seeded.session_id) == 4
    )  # seats used (seen or missed) stay taken

    retry = await client.post(_close(tenant, seeded.session_id), headers=vaccinator.headers)
    assert retry.status_code == 200
    assert retry.json()["marked_no_show"] == 0
    assert retry.json()["no_show"] == 3
    assert retry.json()["closed_at"] == body["closed_at"]

    no_shows = await events(clean_db, tenant, "appointment.no_show")
    assert sorted(p["appointment_id"] for _, p in no_shows) == sorted(
        str(b.appointment_id) for b in missed
    )
    assert [p for _, p in await events(clean_db, tenant, "session.closed")] == [
        {"session_id": str(seeded.session_id)}
    ]
    [closed] = await audited(clean_db, tenant, "session.attendance_closed")
    assert (closed.object_id, closed.details["no_shows"]) == (str(seeded.session_id), 3)
    marked = await audited(clean_db, tenant, "appointment.no_show")
    assert sorted(e.object_id or "" for e in marked) == sorted(
        str(b.appointment_id) for b in missed
    )
    assert {e.request_id for e in marked} == {r.headers["x-request-id"]}


async def test_a_late_arrival_after_close_can_still_be_marked_seen(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
) -> None:
    seeded = await session_today(clean_db, tenant, centre)
    late = await book(clean_db, tenant, seeded.slot_ids[0], given_name="Late")
    assert (
        await client.post(_close(tenant, seeded.session_id), headers=vaccinator.headers)
    ).json()["marked_no_show"] == 1

    r = await client.post(_complete(tenant, late.appointment_id), headers=vaccinator.headers)

    assert r.status_code == 200, r.text
    assert (await statuses(clean_db, tenant))[late.appointment_id] == "completed"
    assert (
        await seats_taken(clean_db, tenant, seeded.session_id) == 1
    )  # seats used (seen or missed) stay taken


async def test_closing_before_the_sessions_day_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
) -> None:
    tomorrow = await session_today(
        clean_db, tenant, centre, day=today(tenant) + dt.timedelta(days=1)
    )
    tom = await book(clean_db, tenant, tomorrow.slot_ids[0], given_name="Tom")
    yesterday = await session_today(
        clean_db, tenant, centre, day=today(tenant) - dt.timedelta(days=1)
    )
    yan = await book(clean_db, tenant, yesterday.slot_ids[0], given_name="Yan")

    r = await client.post(_close(tenant, tomorrow.session_id), headers=vaccinator.headers)

    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (await statuses(clean_db, tenant))[tom.appointment_id] == "booked"
    assert await session_status(clean_db, tenant, tomorrow.session_id) == "open"
    assert await audited(clean_db, tenant, "session.attendance_closed") == []
    # A day already past is closed as well (the day's staff forgot to).
    r = await client.post(_close(tenant, yesterday.session_id), headers=vaccinator.headers)
    assert r.status_code == 200
    assert (await statuses(clean_db, tenant))[yan.appointment_id] == "no_show"


async def test_closing_is_for_the_centres_staff_only(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    elsewhere: uuid.UUID,
) -> None:
    seeded = await session_today(clean_db, tenant, centre)
    ann = await book(clean_db, tenant, seeded.slot_ids[0], given_name="Ann")
    url = _close(tenant, seeded.session_id)
    theirs = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=elsewhere
    )
    citizen = await citizen_token(clean_db, settings, tenant)
    analyst = await staff_token(client, clean_db, settings, tenant, "analyst", region_code="NOR")

    assert (await client.post(url, headers=theirs.headers)).status_code == 404
    assert (await client.post(url, headers=citizen.headers)).status_code == 403
    assert (await client.post(url, headers=analyst.headers)).status_code == 403
    assert (
        await client.post(_close(tenant, uuid.uuid4()), headers=theirs.headers)
    ).status_code == 404
    assert (await statuses(clean_db, tenant))[ann.appointment_id] == "booked"
    manager = await staff_token(
        client, clean_db, settings, tenant, "facility_manager", facility_id=centre
    )
    assert (await client.post(url, headers=manager.headers)).status_code == 200


async def test_two_staff_closing_at_once_mark_each_no_show_once(
    clean_db: Database, cache: Cache, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    seeded = await session_today(clean_db, tenant, centre, seats=10)
    for n in range(6):
        await book(clean_db, tenant, seeded.slot_ids[n % 2], given_name=f"P{n}")
    actors = [actor_for(tenant, "vaccinator", facility_id=centre) for _ in range(4)]

    results = await asyncio.gather(
        *(
            close_session_attendance(
                db=clean_db, cache=cache, tenant=tenant, actor=a, session_id=seeded.session_id
            )
            for a in actors
        )
    )

    assert sorted(r.marked_no_show for r in results) == [0, 0, 0, 6]
    assert len(await events(clean_db, tenant, "appointment.no_show")) == 6
    assert len(await events(clean_db, tenant, "session.closed")) == 1
    assert (
        await seats_taken(clean_db, tenant, seeded.session_id) == 6
    )  # seats used (seen or missed) stay taken


async def test_two_staff_marking_one_person_seen_at_once_complete_it_once(
    clean_db: Database, cache: Cache, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    seeded = await session_today(clean_db, tenant, centre)
    ada = await book(clean_db, tenant, seeded.slot_ids[0], given_name="Ada")
    actors = [actor_for(tenant, "vaccinator", facility_id=centre) for _ in range(4)]

    results = await asyncio.gather(
        *(
            complete_appointment(
                db=clean_db, cache=cache, tenant=tenant, actor=a, appointment_id=ada.appointment_id
            )
            for a in actors
        )
    )

    assert {r.status for r in results} == {"completed"}
    assert len(await events(clean_db, tenant, "appointment.completed")) == 1
    assert len(await audited(clean_db, tenant, "appointment.completed")) == 1
    assert (
        await seats_taken(clean_db, tenant, seeded.session_id) == 1
    )  # seats used (seen or missed) stay taken
