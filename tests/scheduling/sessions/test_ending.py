"""Closing and cancelling sessions: bookings stop, appointments are released with their
seats and their people told (events), and only staff with reach over the centre may."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
from sqlalchemy import select

from tests.scheduling.conftest import REGION
from tests.scheduling.seed import open_session
from tests.scheduling.sessions.support import (
    Appointment,
    Slot,
    api,
    audit_actions,
    body,
    events,
    local_today,
    publish,
    staff,
)
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.scheduling import availability
from vaxport.scheduling.appointments import Seat, book_in
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


def _seat() -> Seat:
    return Seat(uuid.uuid4(), None, "covid-19", 1, None)


async def _book(db: Database, tenant: TenantInfo, slot_id: str, n: int = 1) -> list[uuid.UUID]:
    ids = []
    for _ in range(n):
        async with db.transaction(tenant_id=tenant.id) as uow:
            made = await book_in(uow, tenant.id, uuid.UUID(slot_id), _seat())
        assert made is not None
        ids.append(made.id)
    return ids


async def _appointments(
    db: Database, tenant: TenantInfo
) -> dict[uuid.UUID, tuple[str, str | None]]:
    async with db.read(tenant_id=tenant.id) as s:
        rows = await s.execute(
            select(Appointment.id, Appointment.status, Appointment.ended_reason).where(
                Appointment.tenant_id == tenant.id
            )
        )
        return {i: (status, reason) for i, status, reason in rows.all()}


async def _booked(db: Database, tenant: TenantInfo) -> int:
    async with db.read(tenant_id=tenant.id) as s:
        rows = await s.execute(select(Slot.booked).where(Slot.tenant_id == tenant.id))
        return sum(b for (b,) in rows.all())


async def test_cancelling_releases_every_appointment_and_seat_and_tells_their_people(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    manager = await staff(client, clean_db, settings, tenant, facility_id=centre)
    out = await publish(client, tenant, manager, body(centre))
    other = await publish(
        client, tenant, manager, body(centre, start_time="14:00", end_time="15:00")
    )
    released = await _book(clean_db, tenant, out["slots"][0]["id"], 2)
    released += await _book(clean_db, tenant, out["slots"][3]["id"])
    kept = await _book(clean_db, tenant, other["slots"][0]["id"])
    token = await availability.current_token(cache, tenant.id)

    r = await client.post(api(tenant, f"/{out['id']}/cancel"), headers=manager.headers)

    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["status"] == "cancelled"
    assert answer["released"] == 3
    assert (answer["booked"], answer["remaining"]) == (0, 0)
    assert {s["status"] for s in answer["slots"]} == {"cancelled"}
    found = await _appointments(clean_db, tenant)
    assert {found[i] for i in released} == {("released", "session_cancelled")}
    assert found[kept[0]] == ("booked", None)
    assert await _booked(clean_db, tenant) == 1  # only the other session's
    released_events = await events(clean_db, tenant, "appointment.released")
    assert sorted(p["appointment_id"] for _, p in released_events) == sorted(map(str, released))
    assert ("session.cancelled", {"session_id": out["id"]}) in await events(
        clean_db, tenant, "session."
    )
    assert (await audit_actions(clean_db, tenant, "session.c")) == ["session.cancel"]
    assert await availability.current_token(cache, tenant.id) != token
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        assert await book_in(uow, tenant.id, uuid.UUID(out["slots"][1]["id"]), _seat()) is None

    again = await client.post(api(tenant, f"/{out['id']}/cancel"), headers=manager.headers)
    assert again.status_code == 200
    assert again.json()["released"] == 0
    assert len(await events(clean_db, tenant, "session.cancelled")) == 1
    closing = await client.post(api(tenant, f"/{out['id']}/close"), headers=manager.headers)
    assert closing.status_code == 409


async def test_closing_stops_new_bookings_and_keeps_the_appointments(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    manager = await staff(client, clean_db, settings, tenant, facility_id=centre)
    out = await publish(client, tenant, manager, body(centre))
    [kept] = await _book(clean_db, tenant, out["slots"][2]["id"])

    r = await client.post(api(tenant, f"/{out['id']}/close"), headers=manager.headers)

    assert r.status_code == 200, r.text
    closed = r.json()
    assert closed["status"] == "closed"
    assert closed["closed_at"] is not None
    assert (closed["booked"], closed["remaining"]) == (1, 0)
    assert {s["status"] for s in closed["slots"]} == {"closed"}
    assert (await _appointments(clean_db, tenant))[kept] == ("booked", None)
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        assert await book_in(uow, tenant.id, uuid.UUID(out["slots"][0]["id"]), _seat()) is None
    twice = await client.post(api(tenant, f"/{out['id']}/close"), headers=manager.headers)
    assert twice.status_code == 200
    assert [t for t, _ in await events(clean_db, tenant, "session.")] == [
        "session.published",
        "session.closed",
    ]
    read = await client.get(api(tenant, f"/{out['id']}"), headers=manager.headers)
    assert read.json()["status"] == "closed"

    # A closed session can still be cancelled before it ends: its people are released.
    cancelled = await client.post(api(tenant, f"/{out['id']}/cancel"), headers=manager.headers)
    assert cancelled.json()["released"] == 1
    assert (await _appointments(clean_db, tenant))[kept] == ("released", "session_cancelled")


async def test_cancelling_one_slot_releases_only_its_appointments(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    manager = await staff(client, clean_db, settings, tenant, facility_id=centre)
    out = await publish(client, tenant, manager, body(centre))
    [gone] = await _book(clean_db, tenant, out["slots"][1]["id"])
    [stays] = await _book(clean_db, tenant, out["slots"][2]["id"])
    path = f"/{out['id']}/slots/{out['slots'][1]['id']}/cancel"

    r = await client.post(api(tenant, path), headers=manager.headers)

    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["status"] == "open"
    assert answer["released"] == 1
    assert [s["status"] for s in answer["slots"]] == ["open", "cancelled", *["open"] * 4]
    assert answer["remaining"] == 5 * 2 - 1
    found = await _appointments(clean_db, tenant)
    assert found[gone] == ("released", "session_cancelled")
    assert found[stays] == ("booked", None)
    assert "session.changed" in [t for t, _ in await events(clean_db, tenant, "session.")]
    missing = api(tenant, f"/{out['id']}/slots/{uuid.uuid4()}/cancel")
    assert (await client.post(missing, headers=manager.headers)).status_code == 404


async def test_a_session_that_is_over_is_closed_not_cancelled(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    manager = await staff(client, clean_db, settings, tenant, facility_id=centre)
    past = local_today() - dt.timedelta(days=2)
    seeded = await open_session(clean_db, tenant.id, centre, region_code=REGION, day=past)
    path = api(tenant, f"/{seeded.session_id}")
    refused = await client.post(path + "/cancel", headers=manager.headers)
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await client.post(path + "/close", headers=manager.headers)).json()[
        "status"
    ] == "closed"


async def test_only_staff_with_reach_over_the_centre_close_or_cancel(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    from tests.registration.conftest import make_facility

    manager = await staff(client, clean_db, settings, tenant, facility_id=centre)
    out = await publish(client, tenant, manager, body(centre))
    elsewhere = await make_facility(clean_db, cache, tenant, code="HC-9", region_code=REGION)
    stranger = await staff(client, clean_db, settings, tenant, facility_id=elsewhere)
    south = await staff(client, clean_db, settings, tenant, "region_admin", region_code="SOU")
    vaccinator = await staff(client, clean_db, settings, tenant, "vaccinator", facility_id=centre)
    for who, status in ((stranger, 404), (south, 404), (vaccinator, 403)):
        for action in ("close", "cancel"):
            r = await client.post(api(tenant, f"/{out['id']}/{action}"), headers=who.headers)
            assert r.status_code == status, (action, r.text)
        read = await client.get(api(tenant, f"/{out['id']}"), headers=who.headers)
        assert read.status_code == (200 if who is vaccinator else 404)
        listed = await client.get(api(tenant), headers=who.headers)
        assert len(listed.json()["items"]) == (1 if who is vaccinator else 0)
    assert (await client.get(api(tenant, f"/{out['id']}"), headers=manager.headers)).json()[
        "status"
    ] == "open"
    north = await staff(client, clean_db, settings, tenant, "region_admin", region_code="NOR")
    r = await client.post(api(tenant, f"/{out['id']}/cancel"), headers=north.headers)
    assert r.json()["status"] == "cancelled"


async def test_bookings_racing_a_cancellation_are_all_released_or_refused(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    import asyncio

    from sqlalchemy import func

    manager = await staff(client, clean_db, settings, tenant, facility_id=centre)
    out = await publish(client, tenant, manager, body(centre, capacity_per_slot=20))
    slots = [uuid.UUID(s["id"]) for s in out["slots"]]

    async def book(n: int) -> bool:
        await asyncio.sleep(0.002 * (n % 7))
        async with clean_db.transaction(tenant_id=tenant.id) as uow:
            return await book_in(uow, tenant.id, slots[n % len(slots)], _seat()) is not None

    async def cancel() -> httpx.Response:
        await asyncio.sleep(0.01)
        return await client.post(api(tenant, f"/{out['id']}/cancel"), headers=manager.headers)

    *booked, cancelled = await asyncio.gather(*(book(n) for n in range(40)), cancel())

    assert cancelled.status_code == 200, cancelled.text
    async with clean_db.read(tenant_id=tenant.id) as s:
        live = await s.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(Appointment.session_id == uuid.UUID(out["id"]))
            .where(Appointment.status.in_(("booked", "held")))
        )
        seats = await s.scalar(
            select(func.sum(Slot.booked)).where(Slot.session_id == uuid.UUID(out["id"]))
        )
        released = await s.scalar(
            select(func.count()).select_from(Appointment).where(Appointment.status == "released")
        )
    assert live == 0
    assert seats == 0
    assert released == sum(booked)
