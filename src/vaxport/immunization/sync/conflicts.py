"""The review queue of offline sync: hold a synced dose that met a recorded one, list
the queue, resolve an entry.

Staff with ``doses:write`` over the centre the device recorded at (its vaccinators, and
staff of its region or national) list the open entries and resolve each once:
``keep-existing`` (the same dose, entered twice), ``discard`` (the device's record was
wrong) or ``record-as-next`` (two doses really were given: the device's is recorded as
the person's next dose, checked like any recording, under the record's UUID). Every
resolution is audited (``sync.conflict.resolve``, the action, never the reason's text)
in its transaction; the reason is kept encrypted under the person's key. An entry out
of reach, or another tenant's, is 404; one resolved already is 409.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from vaxport.core import audit
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork, affected
from vaxport.core.errors import Conflict, NotFound, field_error, invalid
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor, Resource, can
from vaxport.immunization.checks import DoseTaken
from vaxport.immunization.models import Dose
from vaxport.immunization.recording import Offline, record_in
from vaxport.immunization.schemas import DoseFields, DoseIn, OverrideIn
from vaxport.immunization.scope import staff_filter, staff_only
from vaxport.immunization.sync.models import SyncConflict
from vaxport.immunization.sync.schemas import (
    ConflictListQuery,
    ConflictOut,
    ConflictPage,
    ResolveIn,
)
from vaxport.registration import service as registration
from vaxport.tenancy.service import TenantInfo

__all__ = ["hold_for_review", "list_conflicts", "resolve"]

WRITE = "doses:write"
NOT_FOUND = N_("conflict not found")
BAD_CURSOR = N_("is not a cursor this list gave out: start from the first page")
RESOLVED = N_("This conflict is resolved already.")


async def hold_for_review(
    uow: UnitOfWork,
    *,
    tenant: TenantInfo,
    actor: Actor,
    device_id: str,
    client_id: uuid.UUID,
    body: DoseIn,
    taken: DoseTaken,
    administered_at: dt.datetime,
    device_time: dt.datetime,
    facility_id: uuid.UUID,
    region_code: str,
) -> SyncConflict | None:
    """Queue the synced dose beside the recorded one it met, in ``uow`` (a savepoint);
    the entry (the one queued by a concurrent resend, if so), or None when no recorded
    dose stands there any more."""
    session = uow.session
    existing = await session.scalar(
        select(Dose.id)
        .where(
            Dose.tenant_id == tenant.id,
            Dose.beneficiary_id.in_(registration.with_merged(tenant.id, taken.person_id)),
            Dose.series == taken.series,
            Dose.dose_number == taken.dose_number,
            Dose.status == "recorded",
        )
        .limit(1)
    )
    if existing is None:
        return None
    now = utcnow()
    row = SyncConflict(
        tenant_id=tenant.id,
        client_id=client_id,
        device_id=device_id,
        submitted_by=actor.account_id,
        beneficiary_id=taken.person_id,
        existing_dose_id=existing,
        product_id=body.product_id,
        series=taken.series,
        dose_number=taken.dose_number,
        administered_at=administered_at,
        device_recorded_at=device_time,
        region_code=region_code,
        facility_id=facility_id,
        status="open",
        version=1,
        created_at=now,
        updated_at=now,
    )
    row.record = DoseFields.model_validate(body.model_dump(exclude={"beneficiary_id"})).model_dump(
        mode="json"
    )
    try:
        async with uow.savepoint():
            session.add(row)
            await session.flush()
            await audit.record(
                uow,
                by=actor.principal,
                action="sync.conflict",
                object_type="sync_conflict",
                object_id=row.id,
                details={
                    "existing_dose_id": str(existing),
                    "beneficiary_id": str(taken.person_id),
                    "device_id": device_id,
                },
            )
    except IntegrityError:  # a concurrent resend queued it first
        return await session.scalar(
            select(SyncConflict).where(
                SyncConflict.tenant_id == tenant.id, SyncConflict.client_id == client_id
            )
        )
    return row


def _out(row: SyncConflict) -> ConflictOut:
    return ConflictOut.model_validate(row, from_attributes=True)


def _where(row: SyncConflict) -> Resource:
    return Resource(row.tenant_id, region_code=row.region_code, facility_id=row.facility_id)


async def list_conflicts(
    *, db: Database, tenant: TenantInfo, actor: Actor, query: ConflictListQuery
) -> ConflictPage:
    """The queue's entries in the actor's reach, oldest first (cursor-paged)."""
    staff_only(actor)
    stmt = select(SyncConflict).where(
        SyncConflict.tenant_id == tenant.id,
        SyncConflict.status == query.status,
        staff_filter(actor, SyncConflict),
    )
    if query.cursor is not None:
        try:
            stmt = stmt.where(SyncConflict.id > uuid.UUID(query.cursor))
        except ValueError as exc:
            raise invalid("cursor", BAD_CURSOR) from exc
    stmt = stmt.order_by(SyncConflict.id).limit(query.limit + 1)
    async with db.read(tenant_id=tenant.id) as session:
        rows = list(await session.scalars(stmt))
        more = len(rows) > query.limit
        items = [_out(r) for r in rows[: query.limit]]
    return ConflictPage(items=items, next_cursor=str(items[-1].id) if more and items else None)


async def _in_reach(
    session: Any, tenant: TenantInfo, actor: Actor, conflict_id: uuid.UUID
) -> SyncConflict:
    row: SyncConflict | None = await session.scalar(
        select(SyncConflict).where(
            SyncConflict.tenant_id == tenant.id, SyncConflict.id == conflict_id
        )
    )
    if row is None or not can(actor, WRITE, _where(row)):
        raise NotFound(NOT_FOUND)
    return row


async def resolve(
    *, db: Database, tenant: TenantInfo, actor: Actor, conflict_id: uuid.UUID, body: ResolveIn
) -> ConflictOut:
    """Settle an open entry once (409 when resolved already); ``record-as-next`` records
    the device's dose (its refusals are this request's, the entry staying open)."""
    now = utcnow()
    try:
        async with db.transaction(tenant_id=tenant.id) as uow:
            row = await _in_reach(uow.session, tenant, actor, conflict_id)
            if row.status != "open":
                raise Conflict(RESOLVED, errors=[field_error("action", RESOLVED)])
            dose_id = None
            if body.action == "record-as-next":
                dose_id = await _record_as_next(uow, tenant, actor, row, body, now)
            changed = await uow.session.execute(
                update(SyncConflict)
                .where(SyncConflict.id == row.id, SyncConflict.version == row.version)
                .values(
                    status="resolved",
                    resolution=body.action,
                    resolved_by=actor.account_id,
                    resolved_at=now,
                    resolved_dose_id=dose_id,
                    version=row.version + 1,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if affected(changed) != 1:  # resolved by someone else meanwhile
                raise Conflict(RESOLVED, errors=[field_error("action", RESOLVED)])
            row.resolution_reason = body.reason
            await uow.session.flush()
            await audit.record(
                uow,
                by=actor.principal,
                action="sync.conflict.resolve",
                object_type="sync_conflict",
                object_id=row.id,
                details={"action": body.action, "dose_id": str(dose_id) if dose_id else None},
            )
    except DoseTaken as taken:
        raise taken.problem from None
    async with db.read(tenant_id=tenant.id) as session:
        return _out(await _in_reach(session, tenant, actor, conflict_id))


async def _record_as_next(  # noqa: PLR0917 - the entry and the decision
    uow: UnitOfWork,
    tenant: TenantInfo,
    actor: Actor,
    row: SyncConflict,
    body: ResolveIn,
    now: dt.datetime,
) -> uuid.UUID:
    """Record the device's dose as the person's next, under the record's UUID."""
    fields = DoseFields.model_validate(row.record)
    dose = DoseIn.model_construct(
        **{name: getattr(fields, name) for name in DoseFields.model_fields},
        beneficiary_id=row.beneficiary_id,
    )
    dose.dose_number = None  # the schedule's next
    dose.administered_at = row.administered_at
    dose.facility_id = row.facility_id
    if body.override:
        dose.override = OverrideIn(reason=body.reason)
    try:
        out = await record_in(
            uow,
            tenant=tenant,
            actor=actor,
            body=dose,
            now=now,
            offline=Offline(row.client_id, row.device_recorded_at, row.device_id),
        )
    except IntegrityError:  # pragma: no cover - the record's id taken meanwhile
        raise invalid("action", N_("the record cannot be recorded: resend it")) from None
    return out.id
