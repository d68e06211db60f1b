"""Use cases of the facilities registry: create, update, (de)activate (reads: ``reads.py``).

Writers pass ``within_region`` (the code of the actor's region subtree root; None for
national scope): a regional administrator can only create, change or (de)activate
facilities in that subtree. Every write records an audit entry and an outbox event in
its own transaction and, once committed, invalidates the public directory's cache.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import Conflict, NotFound, ValidationFailed, field_error
from vaxport.core.i18n import N_
from vaxport.core.ids import short_code
from vaxport.core.principal import SYSTEM, Principal
from vaxport.facilities import directory, events, writes
from vaxport.facilities.choices import UNKNOWN_CENTRE, Centres, centres_in_reach, resolve_centre
from vaxport.facilities.hours import WEEKDAYS
from vaxport.facilities.models import Facility
from vaxport.facilities.reads import (
    directory_entry,
    directory_page,
    facility_region,
    facility_region_in,
    get,
    get_by_code,
    get_public,
    list_facilities,
    list_public,
    names_in,
    region_of,
)
from vaxport.facilities.schemas import (
    DirectoryQuery,
    FacilityCreate,
    FacilityFields,
    FacilityOut,
    FacilityUpdate,
)
from vaxport.facilities.validation import columns
from vaxport.tenancy.service import TenantInfo

# The front door: what other contexts and the pages may use.
__all__ = [
    "UNKNOWN_CENTRE",
    "WEEKDAYS",
    "Centres",
    "DirectoryQuery",
    "centres_in_reach",
    "create",
    "deactivate",
    "directory_entry",
    "directory_page",
    "facility_region",
    "facility_region_in",
    "get",
    "get_by_code",
    "get_public",
    "list_facilities",
    "list_public",
    "names_in",
    "reactivate",
    "region_of",
    "resolve_centre",
    "update",
]

_CODE_ATTEMPTS = 5


def _code_taken() -> Conflict:
    return Conflict(
        N_("a facility with this code already exists"),
        errors=[field_error("code", N_("is already used by another facility"))],
    )


async def _code_exists(uow: UnitOfWork, code: str) -> bool:
    found = await uow.session.scalar(
        select(Facility.id).where(Facility.tenant_id == uow.tenant_id, Facility.code == code)
    )
    return found is not None


async def _new_code(uow: UnitOfWork) -> str:
    for _ in range(_CODE_ATTEMPTS):
        code = f"F-{short_code(6)}"
        if not await _code_exists(uow, code):
            return code
    raise Conflict(N_("could not find a free facility code; give one"))  # pragma: no cover


def _after_write(uow: UnitOfWork, cache: Cache, tenant_id: uuid.UUID) -> None:
    async def invalidate() -> None:
        await directory.invalidate(cache, tenant_id)

    uow.after_commit(invalidate)


async def create(
    *,
    db: Database,
    cache: Cache,
    tenant: TenantInfo,
    data: FacilityCreate,
    by: Principal = SYSTEM,
    within_region: str | None = None,
) -> FacilityOut:
    """Add a facility; 422 with every field problem, 409 if the code is taken."""
    cols, errors = columns(tenant, {f: getattr(data, f) for f in FacilityFields.model_fields})
    if errors:
        raise ValidationFailed(errors=errors)
    writes.check_target(tenant, cols["region_code"], within_region)
    try:
        async with db.transaction(tenant_id=tenant.id) as uow:
            if data.code is not None and await _code_exists(uow, data.code):
                raise _code_taken()
            code = data.code or await _new_code(uow)
            facility = writes.new_facility(tenant.id, code, cols, now=utcnow(), active=True)
            uow.session.add(facility)
            await uow.session.flush()
            await writes.add_vaccines(uow, [(facility.id, facility.vaccines)])
            changes = writes.Changes(uow, by=by, source="api")
            changes.add("facility.create", events.CREATED, facility)
            await changes.flush()
            _after_write(uow, cache, tenant.id)
    except IntegrityError as exc:
        # The code was taken by a concurrent create between our check and our insert.
        raise _code_taken() from exc
    return writes.to_out(facility)


async def _locked(uow: UnitOfWork, facility_id: uuid.UUID) -> Facility:
    facility = await uow.session.scalar(
        select(Facility)
        .where(Facility.tenant_id == uow.tenant_id, Facility.id == facility_id)
        .with_for_update()
    )
    if facility is None:
        raise NotFound(N_("no such facility"))
    return facility


def _check_version(facility: Facility, version: int | None) -> None:
    if version is not None and version != facility.version:
        raise Conflict(
            N_("the facility changed since version {version}; it is at {current}"),
            params={"version": version, "current": facility.version},
            errors=[
                field_error(
                    "version",
                    N_("is {current}, not {version}"),
                    code="stale-version",
                    current=facility.version,
                    version=version,
                )
            ],
            current_version=facility.version,
        )


async def update(
    *,
    db: Database,
    cache: Cache,
    tenant: TenantInfo,
    facility_id: uuid.UUID,
    changes: FacilityUpdate,
    by: Principal = SYSTEM,
    within_region: str | None = None,
) -> FacilityOut:
    """Change the given fields; a change to nothing is a no-op (no new version, no event)."""
    given = changes.model_fields_set - {"version"}
    cols, errors = columns(tenant, {f: getattr(changes, f) for f in given})
    if errors:
        raise ValidationFailed(errors=errors)
    async with db.transaction(tenant_id=tenant.id) as uow:
        facility = await _locked(uow, facility_id)
        _check_version(facility, changes.version)
        writes.check_reach(tenant, facility, within_region)
        if "region_code" in cols:
            writes.check_target(tenant, cols["region_code"], within_region)
        changed = writes.changed_fields(facility, cols)
        if changed:
            writes.apply(facility, cols, now=utcnow())
            if "vaccines" in changed:
                await writes.replace_vaccines(uow, facility)
            noted = writes.Changes(uow, by=by, source="api")
            noted.add("facility.update", events.CHANGED, facility, {"changed": changed})
            await noted.flush()
            _after_write(uow, cache, tenant.id)
    return writes.to_out(facility)


async def _set_active(
    *,
    db: Database,
    cache: Cache,
    tenant: TenantInfo,
    facility_id: uuid.UUID,
    active: bool,
    version: int | None,
    by: Principal,
    within_region: str | None,
) -> FacilityOut:
    async with db.transaction(tenant_id=tenant.id) as uow:
        facility = await _locked(uow, facility_id)
        _check_version(facility, version)
        writes.check_reach(tenant, facility, within_region)
        if facility.active != active:
            writes.set_active(facility, active, now=utcnow())
            noted = writes.Changes(uow, by=by, source="api")
            if active:
                noted.add("facility.reactivate", events.REACTIVATED, facility)
            else:
                noted.add("facility.deactivate", events.DEACTIVATED, facility)
            await noted.flush()
            _after_write(uow, cache, tenant.id)
    return writes.to_out(facility)


async def deactivate(
    *,
    db: Database,
    cache: Cache,
    tenant: TenantInfo,
    facility_id: uuid.UUID,
    version: int | None = None,
    by: Principal = SYSTEM,
    within_region: str | None = None,
) -> FacilityOut:
    """Take a facility out of service: hidden from the public, kept with its history."""
    return await _set_active(
        db=db,
        cache=cache,
        tenant=tenant,
        facility_id=facility_id,
        active=False,
        version=version,
        by=by,
        within_region=within_region,
    )


async def reactivate(
    *,
    db: Database,
    cache: Cache,
    tenant: TenantInfo,
    facility_id: uuid.UUID,
    version: int | None = None,
    by: Principal = SYSTEM,
    within_region: str | None = None,
) -> FacilityOut:
    """Put a deactivated facility back in service."""
    return await _set_active(
        db=db,
        cache=cache,
        tenant=tenant,
        facility_id=facility_id,
        active=True,
        version=version,
        by=by,
        within_region=within_region,
    )
