"""A centre taken out of service: its sessions to come are cancelled by the outbox
subscriber, their appointments released; past sessions and other centres are untouched."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
from sqlalchemy import select

from tests.core.outbox_support import drain, make_worker
from tests.registration.conftest import make_facility
from tests.scheduling.conftest import REGION
from tests.scheduling.seed import open_session
from tests.scheduling.sessions.support import (
    Appointment,
    Session,
    body,
    events,
    local_today,
    publish,
    staff,
)
from vaxport import wiring
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.facilities import service as facilities
from vaxport.scheduling.appointments import Seat, book_in
from vaxport.scheduling.sessions.events import SUBSCRIBERS
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


async def _statuses(db: Database, tenant: TenantInfo) -> dict[uuid.UUID, str]:
    async with db.read(tenant_id=tenant.id) as s:
        rows = await s.execute(
            select(Session.id, Session.status).where(Session.tenant_id == tenant.id)
        )
        return {row[0]: row[1] for row in rows.all()}


async def test_deactivating_a_centre_cancels_its_sessions_to_come(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    assert "scheduling.cancel-sessions-of-closed-facility" in wiring.event_subscriptions().names
    manager = await staff(client, clean_db, settings, tenant, facility_id=centre)
    first = await publish(client, tenant, manager, body(centre))
    second = await publish(
        client,
        tenant,
        manager,
        body(centre, day=(local_today() + dt.timedelta(days=9)).isoformat()),
    )
    past = await open_session(
        clean_db, tenant.id, centre, region_code=REGION, day=local_today() - dt.timedelta(days=3)
    )
    other = await make_facility(clean_db, cache, tenant, code="HC-7", region_code=REGION)
    admin = await staff(client, clean_db, settings, tenant, "national_admin")
    elsewhere = await publish(client, tenant, admin, body(other))
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        seat = Seat(uuid.uuid4(), None, "covid-19", 1, None)
        booked = await book_in(uow, tenant.id, uuid.UUID(first["slots"][0]["id"]), seat)
    assert booked is not None

    await facilities.deactivate(db=clean_db, cache=cache, tenant=tenant, facility_id=centre)
    worker = make_worker(clean_db, cache, settings, *SUBSCRIBERS)
    await drain(worker)

    statuses = await _statuses(clean_db, tenant)
    assert statuses[uuid.UUID(first["id"])] == "cancelled"
    assert statuses[uuid.UUID(second["id"])] == "cancelled"
    assert statuses[past.session_id] == "open"
    assert statuses[uuid.UUID(elsewhere["id"])] == "open"
    async with clean_db.read(tenant_id=tenant.id) as s:
        appointment = await s.get(Appointment, booked.id)
        assert appointment is not None
        assert (appointment.status, appointment.ended_reason) == ("released", "session_cancelled")
    assert len(await events(clean_db, tenant, "session.cancelled")) == 2
    assert len(await events(clean_db, tenant, "appointment.released")) == 1


async def test_a_centre_back_in_service_before_the_event_keeps_its_sessions(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    manager = await staff(client, clean_db, settings, tenant, facility_id=centre)
    out = await publish(client, tenant, manager, body(centre))
    await facilities.deactivate(db=clean_db, cache=cache, tenant=tenant, facility_id=centre)
    await facilities.reactivate(db=clean_db, cache=cache, tenant=tenant, facility_id=centre)
    await drain(make_worker(clean_db, cache, settings, *SUBSCRIBERS))
    assert (await _statuses(clean_db, tenant))[uuid.UUID(out["id"])] == "open"
