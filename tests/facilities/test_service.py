"""The registry's use cases: create, update, (de)activate, get; events, audit, scoping."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.facilities.conftest import Admin
from tests.facilities.helpers import audit_actions, body, counts, events
from tests.support.tenants import load_tenant
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.errors import Conflict, Forbidden, NotFound
from vaxport.facilities import service
from vaxport.facilities.schemas import FacilityCreate, FacilityUpdate
from vaxport.tenancy.schemas import TenantInfo


async def _create(db: Database, cache: Cache, tenant: TenantInfo, **changes: object):  # type: ignore[no-untyped-def]
    return await service.create(
        db=db, cache=cache, tenant=tenant, data=FacilityCreate.model_validate(body(**changes))
    )


async def test_create_stores_normalised_values_with_an_event_and_an_audit_entry(
    clean_db: Database, cache: Cache, tenant: TenantInfo
) -> None:
    created = await _create(clean_db, cache, tenant)
    assert created.code == "HC-001"
    assert created.version == 1
    assert created.active
    assert created.phone == "+16135550142"  # E.164, from the tenant's numbering plan
    assert created.postal_code == "D1A 2B3"
    assert created.accessibility == {"en": "Step-free entrance."}
    assert created.vaccines == ["covid-mrna", "mmr"]
    # Intervals are kept in order of opening; exceptions default to closed.
    assert created.opening_hours["weekly"]["mon"] == [
        {"opens": "08:00", "closes": "12:00"},
        {"opens": "13:00", "closes": "17:00"},
    ]
    assert created.opening_hours["exceptions"] == [
        {"date": "2026-12-25", "hours": [], "note": "Christmas"}
    ]
    assert await service.get(db=clean_db, tenant=tenant, facility_id=created.id) == created
    assert await events(clean_db, tenant.id) == [
        ("facility.created", {"facility_id": str(created.id)})
    ]
    assert await audit_actions(clean_db, tenant.id) == [("facility.create", str(created.id))]
    assert (await counts(clean_db, tenant.id))["vaccines"] == 2


async def test_a_code_is_made_up_when_none_is_given(
    clean_db: Database, cache: Cache, tenant: TenantInfo
) -> None:
    a = await _create(clean_db, cache, tenant, code=None)
    b = await _create(clean_db, cache, tenant, code=None)
    assert a.code.startswith("F-")
    assert len(a.code) == 8
    assert a.code != b.code


async def test_update_changes_only_what_is_given_and_bumps_the_version(
    clean_db: Database, cache: Cache, tenant: TenantInfo
) -> None:
    created = await _create(clean_db, cache, tenant)
    changes = FacilityUpdate.model_validate(
        {"phone": None, "vaccines": ["hpv"], "location": {"lat": 48.5, "lon": -79.6}}
    )
    updated = await service.update(
        db=clean_db, cache=cache, tenant=tenant, facility_id=created.id, changes=changes
    )
    assert updated.version == 2
    assert updated.phone is None
    assert updated.vaccines == ["hpv"]
    assert updated.location is not None
    assert updated.location.lat == 48.5
    assert updated.name == created.name
    assert updated.email == created.email
    assert updated.updated_at > created.updated_at
    assert [e[0] for e in await events(clean_db, tenant.id)] == [
        "facility.created",
        "facility.changed",
    ]
    assert (await counts(clean_db, tenant.id))["vaccines"] == 1  # the index follows the list


async def test_an_update_that_changes_nothing_leaves_no_trace(
    clean_db: Database, cache: Cache, tenant: TenantInfo
) -> None:
    created = await _create(clean_db, cache, tenant)
    before = await counts(clean_db, tenant.id)
    same = FacilityUpdate.model_validate({"name": body()["name"], "stations": 4})
    result = await service.update(
        db=clean_db, cache=cache, tenant=tenant, facility_id=created.id, changes=same
    )
    assert result == created
    assert await counts(clean_db, tenant.id) == before


async def test_a_stale_version_is_a_conflict(
    clean_db: Database, cache: Cache, tenant: TenantInfo
) -> None:
    created = await _create(clean_db, cache, tenant)
    first = FacilityUpdate.model_validate({"version": 1, "stations": 5})
    await service.update(
        db=clean_db, cache=cache, tenant=tenant, facility_id=created.id, changes=first
    )
    with pytest.raises(Conflict) as caught:
        await service.deactivate(
            db=clean_db, cache=cache, tenant=tenant, facility_id=created.id, version=1
        )
    assert caught.value.errors == [{"field": "version", "reason": "is 2, not 1"}]
    assert (await service.get(db=clean_db, tenant=tenant, facility_id=created.id)).active


async def test_deactivation_keeps_the_facility_and_its_history(
    clean_db: Database, cache: Cache, tenant: TenantInfo
) -> None:
    created = await _create(clean_db, cache, tenant)
    off = await service.deactivate(db=clean_db, cache=cache, tenant=tenant, facility_id=created.id)
    again = await service.deactivate(
        db=clean_db, cache=cache, tenant=tenant, facility_id=created.id
    )
    assert not off.active
    assert off.deactivated_at is not None
    assert off.version == 2
    assert again == off  # deactivating twice is a no-op
    with pytest.raises(NotFound):
        await service.get_public(db=clean_db, tenant=tenant, facility_id=created.id)
    kept = await service.get(db=clean_db, tenant=tenant, facility_id=created.id)
    assert kept.name == created.name
    on = await service.reactivate(db=clean_db, cache=cache, tenant=tenant, facility_id=created.id)
    assert on.active
    assert on.deactivated_at is None
    assert on.version == 3
    assert [e[0] for e in await events(clean_db, tenant.id)] == [
        "facility.created",
        "facility.deactivated",
        "facility.reactivated",
    ]
    assert [a for a, _ in await audit_actions(clean_db, tenant.id)] == [
        "facility.create",
        "facility.deactivate",
        "facility.reactivate",
    ]


async def test_there_is_no_way_to_delete_a_facility(
    client: httpx.AsyncClient, admin: Admin, tenant: TenantInfo
) -> None:
    created = (await client.post(f"/api/v1/{tenant.code}/facilities", json=body())).json()
    r = await client.delete(f"/api/v1/{tenant.code}/facilities/{created['id']}")
    assert r.status_code == 405


async def test_a_regional_admin_writes_only_inside_their_region(
    clean_db: Database, cache: Cache, tenant: TenantInfo
) -> None:
    north = await _create(clean_db, cache, tenant, code="N-1")
    with pytest.raises(Forbidden) as caught:
        await service.create(
            db=clean_db,
            cache=cache,
            tenant=tenant,
            data=FacilityCreate.model_validate(body(code="S-1", region_code="SOU-01-01")),
            within_region="NOR",
        )
    assert caught.value.errors == [
        {"field": "region_code", "reason": "is outside your region (NOR)"}
    ]
    move = FacilityUpdate.model_validate({"region_code": "CEN-01-01"})
    with pytest.raises(Forbidden):
        await service.update(
            db=clean_db,
            cache=cache,
            tenant=tenant,
            facility_id=north.id,
            changes=move,
            within_region="NOR-01",
        )
    with pytest.raises(NotFound):  # outside the actor's region: as if it did not exist
        await service.deactivate(
            db=clean_db, cache=cache, tenant=tenant, facility_id=north.id, within_region="SOU"
        )
    with pytest.raises(NotFound):
        await service.get(db=clean_db, tenant=tenant, facility_id=north.id, within_region="SOU")
    inside = FacilityUpdate.model_validate({"region_code": "NOR-01-02"})
    moved = await service.update(
        db=clean_db,
        cache=cache,
        tenant=tenant,
        facility_id=north.id,
        changes=inside,
        within_region="NOR-01",
    )
    assert moved.region_code == "NOR-01-02"


async def test_the_api_takes_the_region_scope_from_the_principal(
    client: httpx.AsyncClient, admin: Admin, tenant: TenantInfo
) -> None:
    admin.region = "SOU"
    r = await client.post(f"/api/v1/{tenant.code}/facilities", json=body())
    assert r.status_code == 403
    assert r.json()["errors"][0]["field"] == "region_code"
    r = await client.post(f"/api/v1/{tenant.code}/facilities", json=body(region_code="SOU-02-01"))
    assert r.status_code == 201
    assert r.headers["location"] == f"/api/v1/{tenant.code}/admin/facilities/{r.json()['id']}"


async def test_the_http_lifecycle_with_conditional_changes(
    client: httpx.AsyncClient, admin: Admin, tenant: TenantInfo
) -> None:
    base = f"/api/v1/{tenant.code}"
    created = (await client.post(f"{base}/facilities", json=body())).json()
    url = f"{base}/facilities/{created['id']}"
    r = await client.patch(url, json={"version": 1, "address": None, "type": "private"})
    assert r.status_code == 200
    assert (r.json()["version"], r.json()["address"], r.json()["type"]) == (2, None, "private")
    stale = await client.patch(url, json={"version": 1, "stations": 1})
    assert stale.status_code == 409
    assert stale.json()["current_version"] == 2
    off = await client.post(f"{url}/deactivate", json={"version": 2})
    assert off.status_code == 200
    assert off.json()["active"] is False
    assert (await client.get(url)).status_code == 404  # public view
    admin_view = await client.get(f"{base}/admin/facilities/{created['id']}")
    assert admin_view.status_code == 200
    assert admin_view.json()["version"] == 3
    on = await client.post(f"{url}/reactivate")  # the body is optional
    assert on.status_code == 200
    assert on.json()["active"] is True
    missing = await client.patch(f"{base}/facilities/{uuid.uuid4()}", json={"stations": 1})
    assert missing.status_code == 404


async def test_tenants_never_see_each_others_facilities(
    clean_db: Database, cache: Cache, tenant: TenantInfo
) -> None:
    other = await load_tenant(clean_db, cache)
    mine = await _create(clean_db, cache, tenant)
    await _create(clean_db, cache, other)  # the same code is fine in another tenant
    with pytest.raises(NotFound):
        await service.get(db=clean_db, tenant=other, facility_id=mine.id)
    with pytest.raises(NotFound):
        await service.deactivate(db=clean_db, cache=cache, tenant=other, facility_id=mine.id)
    assert (await counts(clean_db, tenant.id))["facilities"] == 1
    assert (await counts(clean_db, other.id))["facilities"] == 1


async def test_concurrent_creates_of_one_code_make_one_facility(
    clean_db: Database, cache: Cache, tenant: TenantInfo
) -> None:
    results = await asyncio.gather(
        *(_create(clean_db, cache, tenant, name=f"Centre {i}") for i in range(4)),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(made) == 1
    assert all(isinstance(r, Conflict) for r in refused), refused
    assert (await counts(clean_db, tenant.id))["facilities"] == 1
    assert len(await events(clean_db, tenant.id)) == 1


async def test_concurrent_conditional_updates_let_exactly_one_win(
    clean_db: Database, cache: Cache, tenant: TenantInfo
) -> None:
    created = await _create(clean_db, cache, tenant)

    async def set_stations(n: int) -> object:
        changes = FacilityUpdate.model_validate({"version": 1, "stations": n})
        return await service.update(
            db=clean_db, cache=cache, tenant=tenant, facility_id=created.id, changes=changes
        )

    results = await asyncio.gather(*(set_stations(n) for n in (5, 6, 7)), return_exceptions=True)
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, BaseException))
    final = await service.get(db=clean_db, tenant=tenant, facility_id=created.id)
    assert final.version == 2
    assert final.stations == winners[0].stations  # type: ignore[attr-defined]


async def test_the_worker_handles_every_facility_event_by_refreshing_the_directory(
    clean_db: Database, cache: Cache, tenant: TenantInfo
) -> None:
    import datetime as dt

    from vaxport.core.outbox import Event, HandlerContext, Subscriptions
    from vaxport.facilities import directory, events
    from vaxport.settings import Settings
    from vaxport.wiring import event_subscriptions

    # What the worker is given: no facility event may go unhandled.
    subs = event_subscriptions()
    [refresh] = events.SUBSCRIBERS
    for event_type in events.EVENT_TYPES:
        assert subs.for_type(event_type)[0] == refresh
    # Scheduling also reacts to a deactivation (its sessions to come are cancelled).
    assert [s.name for s in subs.for_type(events.DEACTIVATED)[1:]] == [
        "scheduling.cancel-sessions-of-closed-facility"
    ]
    assert Subscriptions(events.SUBSCRIBERS).event_types == tuple(sorted(events.EVENT_TYPES))
    before = await directory.generation(cache, tenant.id)
    event = Event(
        id=uuid.uuid4(),
        event_type=events.CHANGED,
        tenant_id=tenant.id,
        payload={"facility_id": str(uuid.uuid4())},
        attempts=2,  # delivered again: still fine
        created_at=dt.datetime.now(dt.UTC),
    )
    ctx = HandlerContext(db=clean_db, cache=cache, settings=Settings(env="test"))
    await events.refresh_directory(event, ctx)
    assert await directory.generation(cache, tenant.id) != before
