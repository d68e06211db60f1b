"""A person arrives with their booking code: staff find the appointment and mark them seen."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx

from tests.registration.conftest import Person, citizen_token, staff_token
from tests.registration.review.review_support import events
from tests.scheduling.attendance.support import (
    audited,
    book,
    cancel,
    seats_taken,
    session_today,
    statuses,
    today,
)
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


def _code(tenant: TenantInfo, code: str) -> str:
    return f"/api/v1/{tenant.code}/appointments/by-code/{code}"


def _complete(tenant: TenantInfo, appointment_id: uuid.UUID) -> str:
    return f"/api/v1/{tenant.code}/appointments/{appointment_id}/complete"


async def test_a_code_as_the_person_reads_it_out_finds_their_appointment_and_is_audited(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
) -> None:
    seeded = await session_today(clean_db, tenant, centre)
    ada = await book(clean_db, tenant, seeded.slot_ids[0], given_name="Ada", dose=2)
    spoken = f" {ada.code[:4].lower()}-{ada.code[4:]} ".replace("0", "o").replace("1", "l")

    r = await client.get(_code(tenant, spoken), headers=vaccinator.headers)

    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == str(ada.appointment_id)
    assert (body["given_name"], body["family_name"]) == ("Ada", "Okafor")
    assert (body["booking_code"], body["dose_number"], body["status"]) == (ada.code, 2, "booked")
    [entry] = await audited(clean_db, tenant, "appointment.by_code")
    assert (entry.object_type, entry.object_id) == ("beneficiary", str(ada.person_id))
    assert entry.actor_id == vaccinator.id


async def test_a_code_elsewhere_or_unknown_is_404_and_a_malformed_one_422(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    elsewhere: uuid.UUID,
    vaccinator: Person,
) -> None:
    other = await session_today(clean_db, tenant, elsewhere, region_code="CEN-01-01")
    ola = await book(clean_db, tenant, other.slot_ids[0], given_name="Ola")

    r = await client.get(_code(tenant, ola.code), headers=vaccinator.headers)
    assert r.status_code == 404
    unknown = await client.get(_code(tenant, "ZZZZZZZZ"), headers=vaccinator.headers)
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == r.json()["detail"]  # the same answer either way
    for bad in ("ABC", "ABCDEFGH9", "ABCD%2AEFG", "ÄBCDEFGH"):
        r = await client.get(_code(tenant, bad), headers=vaccinator.headers)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["errors"][0]["field"] == "code"
    citizen = await citizen_token(clean_db, settings, tenant)
    assert (await client.get(_code(tenant, ola.code), headers=citizen.headers)).status_code == 403
    theirs = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=elsewhere
    )
    assert (await client.get(_code(tenant, ola.code), headers=theirs.headers)).status_code == 200
    assert await audited(clean_db, tenant, "appointment.by_code") != []


async def test_marking_a_person_seen_completes_the_appointment_once(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
) -> None:
    seeded = await session_today(clean_db, tenant, centre)
    ada = await book(clean_db, tenant, seeded.slot_ids[0], given_name="Ada")
    bea = await book(clean_db, tenant, seeded.slot_ids[0], given_name="Bea")

    r = await client.post(_complete(tenant, ada.appointment_id), headers=vaccinator.headers)

    assert r.status_code == 200, r.text
    assert r.json()["status"] == "completed"
    assert "given_name" not in r.json()  # a write's answer names nobody
    again = await client.post(_complete(tenant, ada.appointment_id), headers=vaccinator.headers)
    assert again.status_code == 200
    assert again.json() == r.json()
    assert (await statuses(clean_db, tenant))[ada.appointment_id] == "completed"
    assert (await statuses(clean_db, tenant))[bea.appointment_id] == "booked"
    completed = await events(clean_db, tenant, "appointment.completed")
    assert [p["appointment_id"] for _, p in completed] == [str(ada.appointment_id)]
    [entry] = await audited(clean_db, tenant, "appointment.completed")
    assert (entry.object_type, entry.object_id) == ("appointment", str(ada.appointment_id))
    assert entry.request_id == r.headers["x-request-id"]
    # A seat used stays taken: Ada's (seen) and Bea's (to come).
    assert await seats_taken(clean_db, tenant, seeded.session_id) == 2


async def test_completion_is_refused_for_ended_bookings_later_days_and_people_out_of_reach(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    elsewhere: uuid.UUID,
    vaccinator: Person,
) -> None:
    seeded = await session_today(clean_db, tenant, centre)
    gone = await book(clean_db, tenant, seeded.slot_ids[0], given_name="Gone")
    await cancel(clean_db, tenant, gone.appointment_id)
    later = await session_today(clean_db, tenant, centre, day=today(tenant) + dt.timedelta(days=1))
    tom = await book(clean_db, tenant, later.slot_ids[0], given_name="Tom")
    other = await session_today(clean_db, tenant, elsewhere, region_code="CEN-01-01")
    ola = await book(clean_db, tenant, other.slot_ids[0], given_name="Ola")
    citizen = await citizen_token(clean_db, settings, tenant)
    before = await statuses(clean_db, tenant)

    r = await client.post(_complete(tenant, gone.appointment_id), headers=vaccinator.headers)
    assert r.status_code == 409, r.text
    assert r.json()["appointment_status"] == "cancelled"
    r = await client.post(_complete(tenant, tom.appointment_id), headers=vaccinator.headers)
    assert r.status_code == 409
    assert (today(tenant) + dt.timedelta(days=1)).isoformat() in r.json()["detail"]
    r = await client.post(_complete(tenant, ola.appointment_id), headers=vaccinator.headers)
    assert r.status_code == 404
    r = await client.post(_complete(tenant, uuid.uuid4()), headers=vaccinator.headers)
    assert r.status_code == 404
    r = await client.post(_complete(tenant, tom.appointment_id), headers=citizen.headers)
    assert r.status_code == 403
    assert await statuses(clean_db, tenant) == before
    assert await audited(clean_db, tenant, "appointment.completed") == []
