"""A centre moved to another region: its sessions to come, their slots and live
appointments follow (the outbox subscriber), so searches and regional staff find them
there; the past stays where it happened."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from tests.core.outbox_support import drain, make_worker
from tests.registration.review.review_support import audit_actions
from tests.scheduling.conftest import REGION
from tests.scheduling.seed import open_session
from tests.scheduling.sessions.support import (
    Appointment,
    Session,
    Slot,
    api,
    body,
    local_today,
    publish,
    staff,
)
from vaxport import wiring
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.facilities import service as facilities
from vaxport.facilities.schemas import FacilityUpdate
from vaxport.scheduling.appointments import Seat, book_in
from vaxport.scheduling.sessions.events import SUBSCRIBERS
from vaxport.scheduling.sessions.relocation import follow_facility_region
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

SOUTH = "SOU-01-01"


async def _slot_ids(client: httpx.AsyncClient, tenant: TenantInfo, region: str) -> set[str]:
    r = await client.get(f"/api/v1/{tenant.code}/slots", params={"region": region, "limit": 100})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return {i["id"] for i in items}


async def _regions(db: Database, tenant: TenantInfo, model: Any, ids: list[uuid.UUID]) -> set[str]:
    async with db.read(tenant_id=tenant.id) as s:
        return set(await s.scalars(select(model.region_code).where(model.id.in_(ids))))


async def test_a_centre_moved_to_another_region_takes_its_sessions_to_come_along(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    assert "scheduling.follow-region-of-changed-facility" in wiring.event_subscriptions().names
    manager = await staff(client, clean_db, settings, tenant, facility_id=centre)
    coming = await publish(client, tenant, manager, body(centre))
    coming_id = uuid.UUID(coming["id"])
    slots = {s["id"] for s in coming["slots"]}
    past = await open_session(
        clean_db, tenant.id, centre, region_code=REGION, day=local_today() - dt.timedelta(days=3)
    )
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        seat = Seat(uuid.uuid4(), None, "covid-19", 1, None)
        booked = await book_in(uow, tenant.id, uuid.UUID(coming["slots"][0]["id"]), seat)
    assert booked is not None
    assert slots <= await _slot_ids(client, tenant, "NOR")  # cached under the old token

    await facilities.update(
        db=clean_db,
        cache=cache,
        tenant=tenant,
        facility_id=centre,
        changes=FacilityUpdate(region_code=SOUTH),
    )
    await drain(make_worker(clean_db, cache, settings, *SUBSCRIBERS))

    assert slots <= await _slot_ids(client, tenant, "SOU")
    assert not slots & await _slot_ids(client, tenant, "NOR")
    assert await _regions(clean_db, tenant, Session, [coming_id]) == {SOUTH}
    assert await _regions(clean_db, tenant, Appointment, [booked.id]) == {SOUTH}
    assert await _regions(clean_db, tenant, Session, [past.session_id]) == {REGION}
    assert await _regions(clean_db, tenant, Slot, list(past.slot_ids)) == {REGION}
    south = await staff(client, clean_db, settings, tenant, "region_admin", region_code="SOU")
    north = await staff(client, clean_db, settings, tenant, "region_admin", region_code="NOR")
    assert (
        await client.get(api(tenant, f"/{coming_id}"), headers=south.headers)
    ).status_code == 200
    assert (
        await client.get(api(tenant, f"/{coming_id}"), headers=north.headers)
    ).status_code == 404
    assert "session.region_followed" in await audit_actions(clean_db, tenant, centre)

    # A redelivery, or any later change of the centre, moves nothing again.
    again = await follow_facility_region(
        db=clean_db, cache=cache, tenant_id=tenant.id, facility_id=centre
    )
    assert again == 0


async def test_a_change_that_keeps_the_region_moves_nothing(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    manager = await staff(client, clean_db, settings, tenant, facility_id=centre)
    coming = await publish(client, tenant, manager, body(centre))

    await facilities.update(
        db=clean_db,
        cache=cache,
        tenant=tenant,
        facility_id=centre,
        changes=FacilityUpdate(address="1 New Street"),
    )
    await drain(make_worker(clean_db, cache, settings, *SUBSCRIBERS))

    assert await _regions(clean_db, tenant, Session, [uuid.UUID(coming["id"])]) == {REGION}
    assert "session.region_followed" not in await audit_actions(clean_db, tenant, centre)
