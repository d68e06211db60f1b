"""A dose that completes an appointment does it inside its own read and batch: racing a
cancel, exactly one of the two wins (never a dose on a cancelled appointment, never a
cancel of a completed one, the seat counted once), in at most four round trips."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.immunization.support import body, doses, doses_url, events, person_at
from tests.registration.conftest import Person
from tests.scheduling.attendance.support import book, seats_taken, session_today, statuses
from tests.support.roundtrips import RoundTrips
from vaxport.core.db import Database
from vaxport.scheduling.appointments import Seat, book_in, end
from vaxport.scheduling.models import Appointment
from vaxport.tenancy.schemas import TenantInfo


async def _booked_here(
    db: Database, tenant: TenantInfo, centre: uuid.UUID, slot_id: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID]:
    """A person registered at the centre, booked into ``slot_id``: (person, appointment)."""
    person = await person_at(db, tenant, centre)
    async with db.transaction(tenant_id=tenant.id) as uow:
        row = await book_in(uow, tenant.id, slot_id, Seat(person, None, "covid-19", 1, None))
        assert row is not None
        return person, row.id


async def _cancel(db: Database, tenant: TenantInfo, appointment_id: uuid.UUID) -> bool:
    """The person cancels (the one way an appointment ends); False when it changed first."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        row = await uow.session.get(Appointment, appointment_id, populate_existing=True)
        assert row is not None
        if row.status != "booked":
            return False
        return await end(uow, row, "cancelled")


async def test_a_dose_completing_an_appointment_and_a_cancel_at_once_never_both_win(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    seeded = await session_today(clean_db, tenant, centre, slots=1, seats=8)
    completed = 0
    for _ in range(8):
        person, appointment = await _booked_here(clean_db, tenant, centre, seeded.slot_ids[0])
        ask = body(person, appointment_id=str(appointment))

        dose, cancelled = await asyncio.gather(
            client.post(doses_url(tenant), json=ask, headers=vaccinator.headers),
            _cancel(clean_db, tenant, appointment),
        )

        status = (await statuses(clean_db, tenant))[appointment]
        recorded = [d for d in await doses(clean_db, tenant) if d.beneficiary_id == person]
        if dose.status_code == 201:
            assert (status, cancelled, len(recorded)) == ("completed", False, 1)
            assert recorded[0].appointment_id == appointment
            completed += 1
        else:
            assert dose.status_code == 409, dose.text
            assert dose.json()["type"].endswith(("/appointment-not-completable", "/conflict")), (
                dose.text
            )
            assert (status, cancelled, recorded) == ("cancelled", True, [])
    # A completed seat was used (still counted), a cancelled one went back to its slot.
    assert await seats_taken(clean_db, tenant, seeded.session_id) == completed
    assert len(await events(clean_db, tenant, "appointment.completed")) == completed


async def test_a_dose_completing_an_appointment_completed_by_staff_first_still_stands(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    seeded = await session_today(clean_db, tenant, centre)
    ada = await book(clean_db, tenant, seeded.slot_ids[0], given_name="Ada")
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        row = await uow.session.get(Appointment, ada.appointment_id)
        assert row is not None
        assert await end(uow, row, "completed")

    r = await client.post(
        doses_url(tenant),
        json=body(ada.person_id, appointment_id=str(ada.appointment_id)),
        headers=vaccinator.headers,
    )

    assert r.status_code == 201, r.text
    assert (await statuses(clean_db, tenant))[ada.appointment_id] == "completed"
    assert await events(clean_db, tenant, "appointment.completed") == []  # staff's own end


async def test_a_dose_completing_an_appointment_takes_at_most_four_round_trips(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    if not clean_db.is_postgres:
        pytest.skip("round trips to a database server (PostgreSQL)")
    seeded = await session_today(clean_db, tenant, centre, slots=1, seats=40)
    meter = RoundTrips(clean_db)
    for n, attempt in enumerate(meter.attempts()):
        ada = await book(clean_db, tenant, seeded.slot_ids[0], given_name=f"Ada{n}")
        with attempt:
            r = await client.post(
                doses_url(tenant),
                json=body(ada.person_id, booking_code=ada.code),
                headers=vaccinator.headers,
            )
        assert r.status_code == 201, r.text
    assert meter.fewest <= 4, meter.shown
    assert (await statuses(clean_db, tenant))[ada.appointment_id] == "completed"
