"""Row-level steps shared by the single-facility use cases and the bulk import.

Every change goes through here so that the read copy of the vaccines, the search text,
the version, the audit entry and the outbox event never disagree with the row.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import delete, insert

from vaxport.core import audit
from vaxport.core.db import UnitOfWork
from vaxport.core.errors import Forbidden, NotFound, field_error
from vaxport.core.i18n import N_
from vaxport.core.ids import uuid7
from vaxport.core.principal import Principal
from vaxport.facilities import events
from vaxport.facilities.models import Facility, FacilityVaccine
from vaxport.facilities.schemas import FacilityOut, LocationOut, PublicFacility
from vaxport.facilities.validation import search_text
from vaxport.tenancy.service import TenantInfo, is_in_subtree

# The API field behind a stored column (the others map one to one).
_COLUMN_FIELD = {"latitude": "location", "longitude": "location"}


OUTSIDE_REGION = N_("is outside your region ({region})")


def in_scope(tenant: TenantInfo, region_code: str, within_region: str | None) -> bool:
    """Whether ``region_code`` lies in the actor's region subtree (None: national scope)."""
    return within_region is None or is_in_subtree(
        tenant=tenant, region_code=region_code, ancestor_code=within_region
    )


def check_target(
    tenant: TenantInfo, region_code: str, within_region: str | None, field: str = "region_code"
) -> None:
    """Forbidden to put a facility in a region outside the actor's subtree."""
    if not in_scope(tenant, region_code, within_region):
        raise Forbidden(
            N_("you cannot place a facility outside your region"),
            errors=[field_error(field, OUTSIDE_REGION, region=within_region or "")],
        )


def check_reach(tenant: TenantInfo, facility: Facility, within_region: str | None) -> None:
    """NotFound for a facility outside the actor's subtree: to them it does not exist."""
    if not in_scope(tenant, facility.region_code, within_region):
        raise NotFound(N_("no such facility"))


def new_facility(
    tenant_id: uuid.UUID, code: str, cols: dict[str, Any], *, now: dt.datetime, active: bool
) -> Facility:
    """A new row from checked column values."""
    return Facility(
        id=uuid7(),
        tenant_id=tenant_id,
        code=code,
        search_text=search_text(code, cols["name"]),
        active=active,
        version=1,
        created_at=now,
        updated_at=now,
        deactivated_at=None if active else now,
        **cols,
    )


def changed_fields(facility: Facility, cols: dict[str, Any]) -> list[str]:
    """The API fields whose stored values ``cols`` would change, sorted."""
    changed = set()
    for column, value in cols.items():
        if column in ("ux", "uy", "uz", "postal_key"):
            continue  # derived: they change exactly when their source does
        if getattr(facility, column) != value:
            changed.add(_COLUMN_FIELD.get(column, column))
    return sorted(changed)


def apply(facility: Facility, cols: dict[str, Any], *, now: dt.datetime) -> None:
    """Write ``cols`` into the row and bump its version."""
    for column, value in cols.items():
        setattr(facility, column, value)
    facility.search_text = search_text(facility.code, facility.name)
    facility.version += 1
    facility.updated_at = now


def set_active(facility: Facility, active: bool, *, now: dt.datetime) -> None:
    """Deactivate (kept, hidden) or reactivate, bumping the version."""
    facility.active = active
    facility.deactivated_at = None if active else now
    facility.version += 1
    facility.updated_at = now


async def add_vaccines(uow: UnitOfWork, rows: list[tuple[uuid.UUID, list[str]]]) -> None:
    """Index the vaccines of new facilities (one multi-row INSERT)."""
    values = [
        {"facility_id": fid, "product_id": p, "tenant_id": uow.tenant_id}
        for fid, products in rows
        for p in products
    ]
    if values:
        await uow.session.execute(insert(FacilityVaccine), values)


async def replace_vaccines(uow: UnitOfWork, facility: Facility) -> None:
    """Re-index the vaccines of a facility whose list changed."""
    await uow.session.execute(
        delete(FacilityVaccine).where(
            FacilityVaccine.tenant_id == facility.tenant_id,
            FacilityVaccine.facility_id == facility.id,
        )
    )
    await add_vaccines(uow, [(facility.id, facility.vaccines)])


class Changes:
    """The audit entries and outbox events of one transaction's facility changes.

    Collected as the rows change and written together by :meth:`flush`: one audit
    round trip for a whole import batch instead of one per facility.
    """

    def __init__(self, uow: UnitOfWork, *, by: Principal, source: str) -> None:
        self.uow = uow
        self.by = by
        self.source = source
        self._entries: list[audit.EntryFields] = []
        self._events: list[tuple[str, uuid.UUID]] = []

    def add(
        self,
        action: str,
        event_type: str,
        facility: Facility,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Note one change of ``facility`` (audited as ``action``, published as an event)."""
        self._entries.append(
            {
                "action": action,
                "object_type": "facility",
                "object_id": facility.id,
                "details": {"source": self.source, **(details or {})},
            }
        )
        self._events.append((event_type, facility.id))

    async def flush(self) -> int:
        """Write the noted entries and events into the transaction; how many changes."""
        await audit.record_many(self.uow, by=self.by, entries=self._entries)
        for event_type, facility_id in self._events:
            await events.publish(self.uow, event_type, facility_id)
        count = len(self._entries)
        self._entries, self._events = [], []
        return count


def location_out(facility: Facility) -> LocationOut | None:
    """The facility's point, if it has one."""
    if facility.latitude is None or facility.longitude is None:
        return None
    return LocationOut(lat=facility.latitude, lon=facility.longitude)


def to_out(facility: Facility) -> FacilityOut:
    """The administrators' view of a row."""
    return FacilityOut(
        id=facility.id,
        code=facility.code,
        name=facility.name,
        type=facility.type,
        region_code=facility.region_code,
        address=facility.address,
        postal_code=facility.postal_code,
        location=location_out(facility),
        opening_hours=facility.opening_hours,
        phone=facility.phone,
        email=facility.email,
        accessibility=facility.accessibility,
        vaccines=facility.vaccines,
        daily_capacity=facility.daily_capacity,
        stations=facility.stations,
        active=facility.active,
        version=facility.version,
        created_at=facility.created_at,
        updated_at=facility.updated_at,
        deactivated_at=facility.deactivated_at,
    )


def to_public(facility: Facility, distance_km: float | None = None) -> PublicFacility:
    """The public directory's view of a row."""
    return PublicFacility(
        id=facility.id,
        code=facility.code,
        name=facility.name,
        type=facility.type,
        region_code=facility.region_code,
        address=facility.address,
        postal_code=facility.postal_code,
        location=location_out(facility),
        opening_hours=facility.opening_hours,
        phone=facility.phone,
        email=facility.email,
        accessibility=facility.accessibility,
        vaccines=facility.vaccines,
        distance_km=None if distance_km is None else round(distance_km, 3),
    )
