"""A dose given at an appointment completes it in the same transaction."""

from __future__ import annotations

import uuid

import httpx

from tests.immunization.support import (
    body,
    doses,
    doses_url,
    events,
    person_at,
    vaccinated_at,
)
from tests.registration.conftest import Person
from tests.scheduling.attendance.support import book, cancel, session_today, statuses
from vaxport.core.db import Database
from vaxport.scheduling.appointments import Seat, book_in
from vaxport.tenancy.schemas import TenantInfo


async def test_a_dose_by_booking_code_completes_the_appointment_of_a_person_booked_here_today(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    seeded = await session_today(clean_db, tenant, centre)
    # Registered elsewhere in the region: the vaccinator reaches them by today's booking.
    ada = await book(clean_db, tenant, seeded.slot_ids[0], given_name="Ada")
    spoken = ada.code.lower()

    r = await client.post(
        doses_url(tenant),
        json=body(ada.person_id, booking_code=spoken),
        headers=vaccinator.headers,
    )

    assert r.status_code == 201, r.text
    assert r.json()["appointment_id"] == str(ada.appointment_id)
    assert (await statuses(clean_db, tenant))[ada.appointment_id] == "completed"
    completed = await events(clean_db, tenant, "appointment.completed")
    assert [p["appointment_id"] for p in completed] == [str(ada.appointment_id)]
    assert await vaccinated_at(clean_db, tenant, ada.person_id) is not None


async def test_an_appointment_of_someone_else_or_cancelled_is_refused_and_nothing_changes(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    seeded = await session_today(clean_db, tenant, centre)
    ada = await book(clean_db, tenant, seeded.slot_ids[0], given_name="Ada")
    bob = await book(clean_db, tenant, seeded.slot_ids[0], given_name="Bob")
    cy = await book(clean_db, tenant, seeded.slot_ids[1], given_name="Cy")
    await cancel(clean_db, tenant, cy.appointment_id)

    other = await client.post(
        doses_url(tenant),
        json=body(ada.person_id, appointment_id=str(bob.appointment_id)),
        headers=vaccinator.headers,
    )
    wrong_vaccine = await client.post(
        doses_url(tenant),
        json=body(ada.person_id, appointment_id=str(ada.appointment_id), product_id="mmr"),
        headers=vaccinator.headers,
    )
    ended = await client.post(
        doses_url(tenant),
        json=body(ada.person_id, appointment_id=str(cy.appointment_id)),
        headers=vaccinator.headers,
    )

    assert other.status_code == 422, other.text
    assert other.json()["type"].endswith("/appointment-mismatch")
    assert other.json()["errors"][0]["field"] == "appointment_id"
    # mmr: no such lot is the first thing said; the appointment is checked after the lot.
    assert wrong_vaccine.status_code == 422
    assert ended.status_code == 422  # Cy's appointment is Cy's: a mismatch before its state
    now = await statuses(clean_db, tenant)
    assert (now[ada.appointment_id], now[bob.appointment_id]) == ("booked", "booked")
    assert await doses(clean_db, tenant) == []
    assert await vaccinated_at(clean_db, tenant, ada.person_id) is None


async def test_a_cancelled_appointment_of_the_person_is_not_completed_by_a_dose(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    seeded = await session_today(clean_db, tenant, centre)
    person = await person_at(clean_db, tenant, centre)
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        seat = Seat(person, None, "covid-19", 1, None)
        row = await book_in(uow, tenant.id, seeded.slot_ids[0], seat)
        assert row is not None
        appointment_id = row.id
    await cancel(clean_db, tenant, appointment_id)

    r = await client.post(
        doses_url(tenant),
        json=body(person, appointment_id=str(appointment_id)),
        headers=vaccinator.headers,
    )

    assert r.status_code == 409, r.text
    assert r.json()["type"].endswith("/appointment-not-completable")
    assert (await statuses(clean_db, tenant))[appointment_id] == "cancelled"
    assert await doses(clean_db, tenant) == []
