"""Voiding a dose record: it was not given, or not to this person (``POST .../void``).

The recorder in their window, or a supervisor, voids the dose at the version they read,
always with a reason. The row stays (``status = 'voided'``, who, when, the reason
encrypted), its revision keeps it as it was, and the dose number is free again (the
one-recorded-dose index covers recorded rows only). In the same transaction: the audit
entry ``dose.void``, the event ``dose.voided`` (certificates revoke, analytics recount)
and the next-dose reminders brought back in line (``resync_reminders``: the reminder
the dose scheduled is withdrawn and the dose now due reminded again).

A dose that has a certificate (the certificates context answers through
``ports.certificate_exists``) takes two people: the void makes a pending request (202)
and another person with ``doses:void-approve`` over the dose approves it
(``approve_void``); the one who asked never approves. The approval voids the version the
request was made on, or is 409 ``stale-version``.

The person's ``vaccinated_at`` is left as it is, even when no recorded dose remains: it
marks a person with a dose record, and the voided record (with its history) is one the
retention rule keeps, so the person may not be erased from under it.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select

from vaxport.core import audit
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import Conflict, Forbidden, NotFound, field_error
from vaxport.core.i18n import N_
from vaxport.core.outbox import emit
from vaxport.identity.service import Actor, can
from vaxport.immunization.corrections import history
from vaxport.immunization.corrections.authority import (
    READ,
    authority,
    closed,
    locked_dose,
    stale,
    where,
)
from vaxport.immunization.corrections.models import DoseVoidRequest
from vaxport.immunization.corrections.ports import certificate_exists
from vaxport.immunization.corrections.schemas import VoidIn, VoidOut, VoidRequestOut
from vaxport.immunization.events import DOSE_VOIDED, dose_payload
from vaxport.immunization.models import Dose, Lot
from vaxport.immunization.records import dose_out
from vaxport.immunization.reminders import resync_reminders
from vaxport.immunization.schemas import DoseOut
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantInfo

__all__ = ["approve_void", "void_dose"]

APPROVE = "doses:void-approve"
NO_REQUEST = N_("void request not found")


async def _out(uow: UnitOfWork, dose: Dose) -> DoseOut:
    number = None
    if dose.lot_id is not None:
        number = await uow.session.scalar(
            select(Lot.lot_number).where(Lot.tenant_id == dose.tenant_id, Lot.id == dose.lot_id)
        )
    return dose_out(dose, number, personal=True)


def _request_out(row: DoseVoidRequest) -> VoidRequestOut:
    out = VoidRequestOut.model_validate(row)
    out.reason = row.reason
    return out


async def _void(
    uow: UnitOfWork,
    *,
    tenant: TenantInfo,
    settings: Settings,
    dose: Dose,
    reason: str,
    by: Actor,
    requested_by: uuid.UUID,
    now: dt.datetime,
) -> None:
    """Void ``dose`` (locked, recorded) now: revision, row, audit, event, reminders."""
    before = history.snapshot(dose)
    approved_by = by.account_id if requested_by != by.account_id else None
    history.write_revision(
        uow, dose, before, action="void", reason=reason, changed_by=requested_by,
        approved_by=approved_by, at=now,
    )  # fmt: skip
    dose.status = "voided"
    dose.voided_at = now
    dose.voided_by = requested_by
    dose.void_reason = reason
    dose.version += 1
    dose.updated_at = now
    await uow.session.flush()
    details: dict[str, object] = {"beneficiary_id": str(dose.beneficiary_id)}
    if approved_by is not None:
        details["requested_by"] = str(requested_by)
    await audit.record(
        uow, by=by.principal, action="dose.void", object_type="dose", object_id=dose.id,
        details=details,
    )  # fmt: skip
    await emit(uow, DOSE_VOIDED, dose_payload(dose) | {"version": dose.version})
    await resync_reminders(
        uow,
        tenant=tenant,
        settings=settings,
        person_id=dose.beneficiary_id,
        series=dose.series,
        dose_number=dose.dose_number,
        cause=dose.id,
    )


async def _ask(
    uow: UnitOfWork, actor: Actor, dose: Dose, reason: str, now: dt.datetime
) -> DoseVoidRequest:
    """The pending request for a second person (an older one on a changed dose is
    superseded; one on this version is 409 ``void-requested``)."""
    pending = await uow.session.scalar(
        select(DoseVoidRequest).where(
            DoseVoidRequest.tenant_id == dose.tenant_id,
            DoseVoidRequest.dose_id == dose.id,
            DoseVoidRequest.status == "pending",
        )
    )
    if pending is not None and pending.version == dose.version:
        problem = Conflict(
            N_("a void of this dose is already asked: another person approves it"),
            errors=[
                field_error(
                    "version",
                    N_("a void of this version waits for approval"),
                    code="void-requested",
                )
            ],
            request_id=str(pending.id),
        )
        problem.slug = "void-requested"
        raise problem
    if pending is not None:
        pending.status = "superseded"
        await uow.session.flush()
    row = DoseVoidRequest(
        tenant_id=dose.tenant_id,
        dose_id=dose.id,
        beneficiary_id=dose.beneficiary_id,
        version=dose.version,
        status="pending",
        requested_by=actor.account_id,
        requested_at=now,
    )
    row.reason = reason
    uow.session.add(row)
    await uow.session.flush()
    await audit.record(
        uow, by=actor.principal, action="dose.void.request", object_type="dose",
        object_id=dose.id,
        details={"beneficiary_id": str(dose.beneficiary_id), "request_id": str(row.id)},
    )  # fmt: skip
    return row


async def void_dose(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    settings: Settings,
    dose_id: uuid.UUID,
    body: VoidIn,
) -> VoidOut:
    """Void the dose at ``body.version``, or ask for a second person when it has a
    certificate."""
    now = utcnow()
    async with db.transaction(tenant_id=tenant.id) as uow:
        dose = await locked_dose(uow, tenant.id, dose_id, actor)
        authority(actor, tenant, dose, now)
        if body.version != dose.version:
            raise stale(dose, body.version)
        if dose.status != "recorded":
            raise closed(dose)
        if await certificate_exists(uow.session, tenant.id, dose.beneficiary_id, dose.id):
            request = await _ask(uow, actor, dose, body.reason, now)
            return VoidOut(
                outcome="approval-required",
                dose=await _out(uow, dose),
                request=_request_out(request),
            )
        await _void(
            uow, tenant=tenant, settings=settings, dose=dose, reason=body.reason, by=actor,
            requested_by=actor.account_id, now=now,
        )  # fmt: skip
        return VoidOut(outcome="voided", dose=await _out(uow, dose))


async def approve_void(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    settings: Settings,
    dose_id: uuid.UUID,
    request_id: uuid.UUID,
) -> VoidOut:
    """Approve another person's void request: the dose is voided (at the version asked)."""
    now = utcnow()
    async with db.transaction(tenant_id=tenant.id) as uow:
        dose = await locked_dose(uow, tenant.id, dose_id, actor)
        place = where(tenant.id, dose)
        if not can(actor, APPROVE, place):
            if can(actor, READ, place):
                raise Forbidden(N_("a void is approved by a facility manager or an administrator"))
            raise NotFound(N_("dose not found"))
        request = await uow.session.scalar(
            select(DoseVoidRequest).where(
                DoseVoidRequest.tenant_id == tenant.id,
                DoseVoidRequest.dose_id == dose.id,
                DoseVoidRequest.id == request_id,
            )
        )
        if request is None:
            raise NotFound(NO_REQUEST)
        if request.requested_by == actor.account_id:
            refused = Forbidden(
                N_("the person who asked for a void cannot approve it: another person must"),
                errors=[
                    field_error(
                        "request_id",
                        N_("was asked by you: someone else approves it"),
                        code="approver-is-requester",
                    )
                ],
            )
            refused.slug = "approver-is-requester"
            raise refused
        if request.status != "pending":
            problem = Conflict(
                N_("this void request is {status}"),
                params={"status": request.status},
                errors=[
                    field_error(
                        "request_id",
                        N_("is {status}: nothing is left to approve"),
                        code="void-request-closed",
                        status=request.status,
                    )
                ],
            )
            problem.slug = "void-request-closed"
            raise problem
        if dose.status != "recorded":
            raise closed(dose)
        if request.version != dose.version:
            raise stale(dose, request.version)
        await _void(
            uow, tenant=tenant, settings=settings, dose=dose, reason=request.reason or "",
            by=actor, requested_by=request.requested_by, now=now,
        )  # fmt: skip
        request.status = "approved"
        request.approved_by = actor.account_id
        request.approved_at = now
        await uow.session.flush()
        await audit.record(
            uow, by=actor.principal, action="dose.void.approve", object_type="dose",
            object_id=dose.id,
            details={"beneficiary_id": str(dose.beneficiary_id), "request_id": str(request.id)},
        )  # fmt: skip
        return VoidOut(outcome="voided", dose=await _out(uow, dose), request=_request_out(request))
