"""Reporting an adverse event: by staff after a dose in their reach, or by a citizen for
one of their members; then triage by staff.

Symptoms must be codes of the tenant's list (``immunization.aefi.symptoms``): an unknown
one is a 422 naming ``symptoms[i]``. A report made serious, at creation or by triage,
emits ``aefi.serious`` (the region's admins are told) and counts toward its lot's
threshold in the same transaction (:mod:`.flagging`). Every act is audited.

A report reads what its checks need in one statement (``facts.py``: the dose, its
person and their key) and writes the report, its audit entry, its event and the kept
answer of its Idempotency-Key in one batch (``writes.py``): four round trips on
PostgreSQL, as recording a dose takes (a serious report on a lot also locks the lot and
counts its serious reports).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from vaxport.core import audit
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import Conflict, NotFound, Problem, ValidationFailed, field_error
from vaxport.core.i18n import N_
from vaxport.core.idempotency import Keep
from vaxport.core.ids import uuid7
from vaxport.core.outbox import emit
from vaxport.identity.service import Actor, Resource, can
from vaxport.immunization.aefi import flagging
from vaxport.immunization.aefi.events import AEFI_SERIOUS, serious_payload
from vaxport.immunization.aefi.facts import DoseFacts, read_facts
from vaxport.immunization.aefi.models import AefiReport
from vaxport.immunization.aefi.presenters import report_out
from vaxport.immunization.aefi.schemas import AefiIn, AefiOut, TriageIn
from vaxport.immunization.aefi.writes import write_report
from vaxport.immunization.models import Lot
from vaxport.registration import service as registration
from vaxport.tenancy.service import TenantInfo

WRITE = "doses:write"
REPORT = "aefi:report"
REPORT_NOT_FOUND = N_("adverse event report not found")
Errors = list[dict[str, str]]


def _symptom_errors(tenant: TenantInfo, codes: list[str]) -> Errors:
    section = tenant.config.immunization
    known = section.aefi.codes if section is not None and section.aefi is not None else frozenset()
    errors: Errors = []
    for i, code in enumerate(codes):
        if code not in known:
            errors.append(
                field_error(f"symptoms[{i}]", N_("is not a symptom code of this country"))
            )
    if len(set(codes)) != len(codes):
        errors.append(field_error("symptoms", N_("names a symptom more than once")))
    return errors


def _seriousness_errors(serious: bool, criteria: list[str]) -> Errors:
    if serious and not criteria:
        return [field_error("criteria", N_("name at least one WHO criterion of a serious event"))]
    if criteria and not serious:
        return [field_error("serious", N_("must be true when seriousness criteria are named"))]
    if len(set(criteria)) != len(criteria):
        return [field_error("criteria", N_("names a criterion more than once"))]
    return []


def _check(tenant: TenantInfo, body: AefiIn) -> None:
    errors = _symptom_errors(tenant, body.symptoms) + _seriousness_errors(
        body.serious, list(body.criteria)
    )
    if body.onset_at > utcnow():
        errors.append(field_error("onset_at", N_("is in the future")))
    if errors:
        raise ValidationFailed(N_("the report cannot be made as given"), errors=errors)


async def _locked_lot(uow: UnitOfWork, body: AefiIn, dose: DoseFacts | None) -> Lot | None:
    """The dose's lot, locked, when the report is serious (before the count: see flagging)."""
    if body.serious and dose is not None and dose.lot_id is not None:
        return await flagging.lock_lot(uow, dose.lot_id)
    return None


def _report(  # noqa: PLR0917 - the request and what was read for it
    tenant: TenantInfo,
    actor: Actor,
    body: AefiIn,
    beneficiary_id: uuid.UUID,
    dose: DoseFacts | None,
    region_code: str,
) -> AefiReport:
    """The report's row, every column set (written by one batch: no ORM defaults)."""
    now = utcnow()
    report = AefiReport(
        id=uuid7(),
        tenant_id=tenant.id,
        beneficiary_id=beneficiary_id,
        dose_id=dose.id if dose else None,
        lot_id=dose.lot_id if dose else None,
        product_id=dose.product_id if dose else None,
        region_code=dose.region_code if dose else region_code,
        facility_id=dose.facility_id if dose else None,
        reporter_kind=actor.kind,
        reported_by=actor.account_id,
        onset_at=body.onset_at,
        serious=body.serious,
        criteria=list(body.criteria),
        outcome=body.outcome,
        status="reported",
        triaged_by=None,
        triaged_at=None,
        version=1,
        created_at=now,
        updated_at=now,
    )
    report.symptoms = list(body.symptoms)
    report.narrative = body.narrative
    report.triage_note = None
    return report


async def _written(  # noqa: PLR0917 - the report and what it counts toward
    uow: UnitOfWork,
    tenant: TenantInfo,
    actor: Actor,
    report: AefiReport,
    lot: Lot | None,
    keep: Keep[AefiOut] | None,
) -> AefiOut:
    """The report written (one batch), then counted toward its lot when serious."""
    out = await write_report(uow, actor, report, keep=keep)
    if lot is not None:
        await flagging.flag_if_reached(
            uow, tenant=tenant, lot=lot, region_code=report.region_code, by=actor.principal
        )
    return out


async def _made_serious(
    uow: UnitOfWork, *, tenant: TenantInfo, actor: Actor, report: AefiReport, lot: Lot | None
) -> None:
    await emit(uow, AEFI_SERIOUS, serious_payload(report))
    if lot is not None:
        await flagging.flag_if_reached(
            uow, tenant=tenant, lot=lot, region_code=report.region_code, by=actor.principal
        )


async def _settled(
    db: Database, keep: Keep[AefiOut] | None, run: Callable[[], Awaitable[AefiOut]]
) -> AefiOut:
    """``run``'s answer; a refusal or a held key answered as recording does: a retry
    whose key is kept meets it (``KeyTaken``), and the middleware answers with the first."""
    try:
        return await run()
    except IntegrityError as exc:
        if keep is not None and (taken := keep.claim.refused(exc)) is not None:
            raise taken from None
        raise
    except Problem:
        if keep is not None and (taken := await keep.claim.held(db)) is not None:
            raise taken from None
        raise


async def report_as_staff(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    body: AefiIn,
    keep: Keep[AefiOut] | None = None,
) -> AefiOut:
    """Staff report an event after a dose they reach (the dose's place or its person)."""

    async def run() -> AefiOut:
        if body.dose_id is None:
            raise ValidationFailed(
                N_("name the dose the event follows"),
                errors=[field_error("dose_id", N_("is required: fill it in"))],
            )
        _check(tenant, body)
        read = registration.person_read(tenant=tenant, actor=actor, permission=WRITE)
        async with db.transaction(tenant_id=tenant.id) as uow:
            found = await read_facts(
                uow, tenant=tenant, actor=actor, person_read=read, dose_id=body.dose_id
            )
            dose = found.dose
            if dose is None:
                raise NotFound(N_("dose not found"))
            where = Resource(tenant.id, region_code=dose.region_code, facility_id=dose.facility_id)
            if can(actor, WRITE, where):
                await read.key_in(uow, found.person)  # to seal under; reached by the place
            elif await read.facts_in(uow, actor, found.person) is None:
                # Not at the dose's place: the person must be in reach (404 if not); a
                # merged record or a destroyed key the long way.
                await registration.person_in_reach(
                    uow, tenant=tenant, actor=actor, beneficiary_id=dose.beneficiary_id,
                    permission=WRITE,
                )  # fmt: skip
            lot = await _locked_lot(uow, body, dose)
            report = _report(tenant, actor, body, dose.beneficiary_id, dose, dose.region_code)
            out = await _written(uow, tenant, actor, report, lot, keep)
        return out  # noqa: RET504 - once committed

    return await _settled(db, keep, run)


async def report_as_citizen(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    beneficiary_id: uuid.UUID,
    body: AefiIn,
    keep: Keep[AefiOut] | None = None,
) -> AefiOut:
    """A citizen reports an event of one of their members, after one of their doses."""

    async def run() -> AefiOut:
        _check(tenant, body)
        read = registration.person_read(tenant=tenant, actor=actor, permission=REPORT)
        async with db.transaction(tenant_id=tenant.id) as uow:
            found = await read_facts(
                uow, tenant=tenant, actor=actor, person_read=read, dose_id=body.dose_id,
                beneficiary_id=beneficiary_id,
            )  # fmt: skip
            person = await read.facts_in(uow, actor, found.person)
            if person is None:  # a merged record (its survivor) or a destroyed key
                person = await registration.person_in_reach(
                    uow, tenant=tenant, actor=actor, beneficiary_id=beneficiary_id,
                    permission=REPORT,
                )  # fmt: skip
            dose = found.dose
            if body.dose_id is not None and (
                dose is None or dose.beneficiary_id not in (beneficiary_id, person.id)
            ):
                raise ValidationFailed(
                    N_("the dose is not one of this person's"),
                    errors=[field_error("dose_id", N_("is not a dose of this person"))],
                )
            lot = await _locked_lot(uow, body, dose)
            report = _report(tenant, actor, body, person.id, dose, person.region_code)
            out = await _written(uow, tenant, actor, report, lot, keep)
        return out  # noqa: RET504 - once committed

    return await _settled(db, keep, run)


def report_resource(report: AefiReport) -> Resource:
    """Where a report sits, for ``policy.can``."""
    return Resource(
        report.tenant_id, region_code=report.region_code, facility_id=report.facility_id
    )


async def triage(
    *, db: Database, tenant: TenantInfo, actor: Actor, report_id: uuid.UUID, body: TriageIn
) -> AefiOut:
    """Staff assess a report: seriousness, outcome, a note; ``close`` ends it."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        report = await uow.session.scalar(
            select(AefiReport)
            .where(AefiReport.tenant_id == tenant.id, AefiReport.id == report_id)
            .with_for_update()
        )
        if report is None or not can(actor, "aefi:triage", report_resource(report)):
            raise NotFound(REPORT_NOT_FOUND)
        if body.version != report.version:
            raise Conflict(
                N_("the report changed since version {version}; it is at {current}"),
                params={"version": body.version, "current": report.version},
                errors=[field_error("version", N_("is stale"), code="stale-version")],
            )
        if report.status == "closed":
            raise Conflict(N_("the report is closed"))
        serious = report.serious if body.serious is None else body.serious
        criteria: list[str] = list(report.criteria if body.criteria is None else body.criteria)
        if body.serious is False and body.criteria is None:
            criteria = []
        errors = _seriousness_errors(serious, criteria)
        if errors:
            raise ValidationFailed(N_("the triage cannot be saved as given"), errors=errors)
        became_serious = serious and not report.serious
        lot = None
        if became_serious and report.lot_id is not None:
            lot = await flagging.lock_lot(uow, report.lot_id)
        now = utcnow()
        report.serious = serious
        report.criteria = criteria
        if body.outcome is not None:
            report.outcome = body.outcome
        if body.note is not None:
            report.triage_note = body.note
        report.status = "closed" if body.close else "triaged"
        report.triaged_by = actor.account_id
        report.triaged_at = now
        report.version += 1
        report.updated_at = now
        await audit.record(
            uow,
            by=actor.principal,
            action="aefi.close" if body.close else "aefi.triage",
            object_type="aefi_report",
            object_id=report.id,
            details={"serious": serious, "outcome": report.outcome},
        )
        if became_serious:
            await _made_serious(uow, tenant=tenant, actor=actor, report=report, lot=lot)
        return report_out(report)
