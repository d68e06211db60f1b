"""Reading adverse event reports: staff lists and reports in reach (full reads audited),
a citizen's member's reports, and the subject-access export of one person's reports."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core import audit
from vaxport.core.db import Database
from vaxport.core.errors import NotFound, invalid
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor, can
from vaxport.immunization.aefi.models import AefiReport
from vaxport.immunization.aefi.presenters import report_out, summary_out
from vaxport.immunization.aefi.reporting import REPORT_NOT_FOUND, report_resource
from vaxport.immunization.aefi.schemas import AefiListQuery, AefiOut, AefiPage
from vaxport.immunization.scope import staff_filter, staff_only
from vaxport.registration import service as registration
from vaxport.tenancy.service import TenantInfo

BAD_CURSOR = N_("is not a cursor this list gave out: start from the first page")


async def list_reports(
    *, db: Database, tenant: TenantInfo, actor: Actor, query: AefiListQuery
) -> AefiPage:
    """Reports in the actor's reach, newest first (summaries: no health details)."""
    staff_only(actor)
    stmt = select(AefiReport).where(
        AefiReport.tenant_id == tenant.id, staff_filter(actor, AefiReport)
    )
    if query.lot_id is not None:
        stmt = stmt.where(AefiReport.lot_id == query.lot_id)
    if query.beneficiary_id is not None:
        stmt = stmt.where(AefiReport.beneficiary_id == query.beneficiary_id)
    if query.status is not None:
        stmt = stmt.where(AefiReport.status == query.status)
    if query.serious is not None:
        stmt = stmt.where(AefiReport.serious.is_(query.serious))
    if query.cursor is not None:
        try:
            stmt = stmt.where(AefiReport.id < uuid.UUID(query.cursor))
        except ValueError as exc:
            raise invalid("cursor", BAD_CURSOR) from exc
    stmt = stmt.order_by(AefiReport.id.desc()).limit(query.limit + 1)
    async with db.read(tenant_id=tenant.id) as session:
        rows = list(await session.scalars(stmt))
        more = len(rows) > query.limit
        items = [summary_out(r) for r in rows[: query.limit]]
    return AefiPage(items=items, next_cursor=str(items[-1].id) if more and items else None)


async def get_report(
    *, db: Database, tenant: TenantInfo, actor: Actor, report_id: uuid.UUID
) -> AefiOut:
    """One report in full; 404 out of reach; the read is audited."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        report = await uow.session.scalar(
            select(AefiReport).where(AefiReport.tenant_id == tenant.id, AefiReport.id == report_id)
        )
        if report is None or not can(actor, "doses:read", report_resource(report)):
            raise NotFound(REPORT_NOT_FOUND)
        await audit.record(
            uow,
            by=actor.principal,
            action="aefi.read",
            object_type="aefi_report",
            object_id=report.id,
        )
        return report_out(report)


async def member_reports(
    *, db: Database, tenant: TenantInfo, actor: Actor, beneficiary_id: uuid.UUID
) -> list[AefiOut]:
    """A citizen's member's reports (404 for a person not theirs), newest first."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        person = await registration.person_in_reach(
            uow, tenant=tenant, actor=actor, beneficiary_id=beneficiary_id, permission="aefi:report"
        )
        rows = await uow.session.scalars(
            select(AefiReport)
            .where(
                AefiReport.tenant_id == tenant.id,
                AefiReport.beneficiary_id.in_({beneficiary_id, person.id}),
            )
            .order_by(AefiReport.id.desc())
        )
        return [report_out(r) for r in rows]


async def export_reports(
    session: AsyncSession, tenant_id: uuid.UUID, beneficiary_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The person's reports, decrypted and JSON-ready, for the subject-access export
    (the caller, registration's export, audits it)."""
    rows = await session.scalars(
        select(AefiReport)
        .where(AefiReport.tenant_id == tenant_id, AefiReport.beneficiary_id == beneficiary_id)
        .order_by(AefiReport.id)
    )
    return [report_out(r).model_dump(mode="json") for r in rows]
