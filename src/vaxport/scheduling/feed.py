"""The bulk availability feed, following SMART Scheduling Links (``$bulk-publish``).

Aggregators fetch one manifest and the NDJSON files it lists instead of polling the
search: ``Location`` (one per centre with sessions in the booking horizon), ``Schedule``
(one per centre and vaccine product, with the product's CVX code and the dose numbers
served), and ``Slot`` files, one per top-level region (the manifest tags each with the
region's code as its ``state``). A slot is ``free`` with its seats left as its
``slot-capacity`` and a booking link, or ``busy`` (full) with its capacity.

Files are built once per :data:`FEED_SECONDS` window (a time bucket, not the availability
token: a feed rebuilt at every booking would cost more than the polling it replaces) and
shared through the same two cache tiers as the search (``answers.py``); each answer says
``Cache-Control: public, max-age=FEED_SECONDS`` and carries an ETag, so a client polling
with ``If-None-Match`` gets a 304 until the data changes. Ids are our ids (UUIDs); a
Schedule's id is derived from its centre and product, so it is stable between builds.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import orjson
from sqlalchemy import select

from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.errors import NotFound
from vaxport.core.i18n import N_
from vaxport.scheduling import search_area
from vaxport.scheduling.answers import Answer, cached_answer
from vaxport.scheduling.models import Session, Slot
from vaxport.scheduling.search import booking_path
from vaxport.scheduling.search_area import Area
from vaxport.tenancy.service import TenantInfo, localized

__all__ = [
    "FEED_SECONDS",
    "NDJSON",
    "feed_file",
    "manifest",
    "slot_regions",
]

FEED_SECONDS = 30
NDJSON = "application/fhir+ndjson"
_EXT = "http://fhir-registry.smarthealthit.org/StructureDefinition/"
_IMMUNIZATION = {
    "system": "http://terminology.hl7.org/CodeSystem/service-type",
    "code": "57",
    "display": "Immunization",
}
_COVID = {
    "system": "http://fhir-registry.smarthealthit.org/CodeSystem/service-type",
    "code": "covid19-immunization",
    "display": "COVID-19 Immunization Appointment",
}
_SCHEDULE_IDS = uuid.UUID("6f1c0b52-8c1e-4d7a-9a57-3f0e2c5b7d10")  # uuid5 namespace


def instant(moment: dt.datetime) -> str:
    """A FHIR ``instant`` in UTC, to the millisecond (``2021-04-22T14:28:21.582Z``)."""
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def schedule_id(facility_id: uuid.UUID, product_id: str) -> str:
    """The Schedule of a centre and product: the same id at every build."""
    return str(uuid.uuid5(_SCHEDULE_IDS, f"{facility_id}:{product_id}"))


def slot_regions(tenant: TenantInfo) -> list[str]:
    """The top-level regions: one Slot file each."""
    index = tenant.config.region_index
    return sorted(code for code, node in index.items() if node.level == 1)


def _api(base_url: str, tenant: TenantInfo) -> str:
    return f"{base_url.rstrip('/')}/api/v1/{tenant.code}/$bulk-publish"


def _ndjson(resources: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in resources)


async def _sessions(db: Database, tenant: TenantInfo) -> list[Any]:
    """(centre, product, dose numbers) of the open sessions still to come in the horizon."""
    today = search_area.today(tenant)
    stmt = select(Session.facility_id, Session.product_id, Session.dose_numbers).where(
        Session.tenant_id == tenant.id,
        Session.status == "open",
        Session.day >= today,
        Session.day <= search_area.horizon(tenant, today),
        Session.ends_at > utcnow(),
    )
    async with db.read(tenant_id=tenant.id) as session:
        return list((await session.execute(stmt)).all())


async def _places(
    db: Database, cache: Cache, tenant: TenantInfo, ids: set[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    found = {}
    for facility_id in sorted(ids, key=str):
        where = await search_area.place(db, cache, tenant, Area(), facility_id)
        if where is not None:
            found[facility_id] = where
    return found


def _location(tenant: TenantInfo, base_url: str, place: dict[str, Any]) -> dict[str, Any]:
    config = tenant.config
    node = config.region_index.get(place["region_code"])
    names = {r.code: r.name for r in config.regions.items}
    top = node.path.strip("/").split("/")[0] if node else place["region_code"]
    region_name = names.get(place["region_code"])
    address: dict[str, Any] = {"state": top}
    if place.get("address"):
        address["line"] = [place["address"]]
    if region_name is not None:
        address["city"] = localized(region_name, config.default_locale, config.default_locale)
    if place.get("postal_code"):
        address["postalCode"] = place["postal_code"]
    finder = f"{base_url.rstrip('/')}/{tenant.code}/facilities"
    telecom = [{"system": "phone", "value": place["phone"]}] if place.get("phone") else []
    telecom.append({"system": "url", "value": f"{finder}?q={place['code']}"})
    resource: dict[str, Any] = {
        "resourceType": "Location",
        "id": place["id"],
        "identifier": [{"system": finder, "value": place["code"]}],
        "name": localized(place["name"], config.default_locale, config.default_locale),
        "telecom": telecom,
        "address": address,
    }
    if place.get("location"):
        resource["position"] = {
            "latitude": place["location"]["lat"],
            "longitude": place["location"]["lon"],
        }
    return resource


def _schedule(
    tenant: TenantInfo, base_url: str, facility_id: uuid.UUID, product_id: str, doses: set[int]
) -> dict[str, Any]:
    product = tenant.config.products.get(product_id)
    coding: list[dict[str, Any]] = [_IMMUNIZATION]
    if product is not None and product.disease == "covid-19":
        coding.append(_COVID)
    ours = {"system": f"{base_url.rstrip('/')}/api/v1/{tenant.code}/config", "code": product_id}
    coding.append({**ours, "display": product.name} if product else ours)
    extension: list[dict[str, Any]] = []
    if product is not None and product.cvx:
        extension.append(
            {
                "url": _EXT + "vaccine-product",
                "valueCoding": {
                    "system": "http://hl7.org/fhir/sid/cvx",
                    "code": product.cvx,
                    "display": product.name,
                },
            }
        )
    extension += [{"url": _EXT + "vaccine-dose", "valueInteger": n} for n in sorted(doses)]
    resource: dict[str, Any] = {
        "resourceType": "Schedule",
        "id": schedule_id(facility_id, product_id),
        "serviceType": [{"coding": coding}],
        "actor": [{"reference": f"Location/{facility_id}"}],
    }
    if extension:
        resource["extension"] = extension
    return resource


async def _build_locations(db: Database, cache: Cache, tenant: TenantInfo, base_url: str) -> bytes:
    rows = await _sessions(db, tenant)
    places = await _places(db, cache, tenant, {r.facility_id for r in rows})
    return _ndjson([_location(tenant, base_url, p) for p in places.values()])


async def _build_schedules(db: Database, cache: Cache, tenant: TenantInfo, base_url: str) -> bytes:
    doses: dict[tuple[uuid.UUID, str], set[int]] = {}
    for row in await _sessions(db, tenant):
        doses.setdefault((row.facility_id, row.product_id), set()).update(
            int(n) for n in row.dose_numbers or ()
        )
    places = await _places(db, cache, tenant, {f for f, _ in doses})
    return _ndjson(
        [
            _schedule(tenant, base_url, facility_id, product_id, doses[(facility_id, product_id)])
            for facility_id, product_id in sorted(doses, key=lambda k: (str(k[0]), k[1]))
            if facility_id in places
        ]
    )


def _slot(tenant: TenantInfo, base_url: str, row: Any) -> dict[str, Any]:
    left = row.capacity - row.booked
    free = left > 0
    extension: list[dict[str, Any]] = []
    if free:
        link = base_url.rstrip("/") + booking_path(tenant.code, row.id)
        extension.append({"url": _EXT + "booking-deep-link", "valueUrl": link})
    seats = left if free else row.capacity
    extension.append({"url": _EXT + "slot-capacity", "valueInteger": seats})
    return {
        "resourceType": "Slot",
        "id": str(row.id),
        "schedule": {"reference": f"Schedule/{schedule_id(row.facility_id, row.product_id)}"},
        "status": "free" if free else "busy",
        "start": instant(row.starts_at),
        "end": instant(row.ends_at),
        "extension": extension,
    }


async def _build_slots(
    db: Database, cache: Cache, tenant: TenantInfo, base_url: str, region: str
) -> bytes:
    today = search_area.today(tenant)
    stmt = (
        select(
            Slot.id,
            Slot.facility_id,
            Slot.product_id,
            Slot.starts_at,
            Slot.ends_at,
            Slot.capacity,
            Slot.booked,
        )
        .join(Session, Session.id == Slot.session_id)
        .where(
            Slot.tenant_id == tenant.id,
            Session.tenant_id == tenant.id,
            Slot.region_code.in_(search_area.region_codes(tenant, region)),
            Slot.day >= today,
            Slot.day <= search_area.horizon(tenant, today),
            Slot.status == "open",
            Session.status == "open",
            Slot.starts_at > utcnow(),
        )
        .order_by(Slot.starts_at, Slot.id)
    )
    async with db.read(tenant_id=tenant.id) as session:
        rows = list((await session.execute(stmt)).all())
    places = await _places(db, cache, tenant, {r.facility_id for r in rows})
    return _ndjson([_slot(tenant, base_url, r) for r in rows if r.facility_id in places])


async def _build_manifest(tenant: TenantInfo, base_url: str, bucket: int) -> bytes:
    api = _api(base_url, tenant)
    output: list[dict[str, Any]] = [
        {"type": "Location", "url": f"{api}/locations.ndjson"},
        {"type": "Schedule", "url": f"{api}/schedules.ndjson"},
    ]
    output += [
        {"type": "Slot", "url": f"{api}/slots/{code}.ndjson", "extension": {"state": [code]}}
        for code in slot_regions(tenant)
    ]
    # The files of this window hold every change up to its start (they are built later).
    published = dt.datetime.fromtimestamp(bucket * FEED_SECONDS, dt.UTC)
    doc = {"transactionTime": instant(published), "request": api, "output": output, "error": []}
    return orjson.dumps(doc)


def _bucket() -> int:
    return int(utcnow().timestamp() // FEED_SECONDS)


async def manifest(*, cache: Cache, tenant: TenantInfo, base_url: str) -> Answer:
    """The ``$bulk-publish`` manifest (JSON bytes and ETag)."""

    bucket = _bucket()

    async def build() -> bytes:
        return await _build_manifest(tenant, base_url, bucket)

    return await cached_answer(
        cache=cache,
        tenant_id=tenant.id,
        key={"feed": "manifest", "base": base_url},
        build=build,
        shared_seconds=FEED_SECONDS,
        token=f"feed-{bucket}",
    )


async def feed_file(
    *,
    db: Database,
    cache: Cache,
    tenant: TenantInfo,
    base_url: str,
    kind: str,
    region: str | None = None,
) -> Answer:
    """One NDJSON file of the feed: ``locations``, ``schedules`` or the ``slots`` of a
    top-level ``region``; NotFound for anything else."""

    async def build() -> bytes:
        if kind == "locations":
            return await _build_locations(db, cache, tenant, base_url)
        if kind == "schedules":
            return await _build_schedules(db, cache, tenant, base_url)
        assert region is not None
        return await _build_slots(db, cache, tenant, base_url, region)

    if kind not in ("locations", "schedules", "slots") or (
        kind == "slots" and region not in slot_regions(tenant)
    ):
        raise NotFound(N_("no such file in this feed"))
    return await cached_answer(
        cache=cache,
        tenant_id=tenant.id,
        key={"feed": kind, "region": region, "base": base_url},
        build=build,
        shared_seconds=FEED_SECONDS,
        token=f"feed-{_bucket()}",
    )
