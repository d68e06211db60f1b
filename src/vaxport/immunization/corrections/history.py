"""A dose's history: the revision written before each change, and reading them back.

Before a correction or a void changes a dose, the row as it was goes to
``immunization_dose_revisions`` (append-only) at its ``version``; the dose moves to the
next version. The notes and an override's reason are kept in the revision encrypted
under the person's key (erasing the person shreds them too); the rest is plain.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select

from vaxport.core import audit
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import NotFound
from vaxport.identity.service import Actor, can
from vaxport.immunization.corrections.authority import NO_DOSE, READ, where
from vaxport.immunization.corrections.schemas import RevisionOut, RevisionsOut
from vaxport.immunization.models import Dose, DoseRevision
from vaxport.immunization.scope import staff_only
from vaxport.tenancy.service import TenantInfo

__all__ = ["list_revisions", "snapshot", "write_revision"]

# The fields a revision's ``before`` keeps, plain (none is personal data).
PLAIN = (
    "product_id",
    "series",
    "dose_number",
    "lot_id",
    "administered_at",
    "day",
    "site",
    "route",
    "status",
    "overridden",
)
PERSONAL = ("notes", "override_reason")


def _json(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime, uuid.UUID)):
        return value.isoformat() if not isinstance(value, uuid.UUID) else str(value)
    return value


def snapshot(dose: Dose) -> tuple[dict[str, Any], dict[str, Any]]:
    """The dose's correctable fields as they are now: (plain, personal)."""
    plain = {name: _json(getattr(dose, name)) for name in PLAIN}
    personal = {name: getattr(dose, name) for name in PERSONAL}
    return plain, personal


def changed(before: tuple[dict[str, Any], dict[str, Any]], dose: Dose) -> list[str]:
    """The names of the fields that differ between ``before`` and the dose now."""
    plain, personal = snapshot(dose)
    return sorted(
        [k for k in PLAIN if plain[k] != before[0][k]]
        + [k for k in PERSONAL if personal[k] != before[1][k]]
    )


def write_revision(
    uow: UnitOfWork,
    dose: Dose,
    before: tuple[dict[str, Any], dict[str, Any]],
    *,
    action: str,
    reason: str | None,
    changed_by: uuid.UUID,
    approved_by: uuid.UUID | None,
    at: dt.datetime,
) -> DoseRevision:
    """Keep the dose as it was at its current ``version`` (call before raising it)."""
    plain, personal = before
    row = DoseRevision(
        tenant_id=dose.tenant_id,
        dose_id=dose.id,
        beneficiary_id=dose.beneficiary_id,
        version=dose.version,
        action=action,
        before=plain,
        changed_by=changed_by,
        approved_by=approved_by,
        changed_at=at,
    )
    row.before_personal = personal if any(v is not None for v in personal.values()) else None
    row.reason = reason
    uow.session.add(row)
    return row


async def list_revisions(
    *, db: Database, tenant: TenantInfo, actor: Actor, dose_id: uuid.UUID
) -> RevisionsOut:
    """The dose's revisions, oldest first, for staff who read it (audited; else 404)."""
    staff_only(actor)
    async with db.transaction(tenant_id=tenant.id) as uow:
        dose = await uow.session.scalar(
            select(Dose).where(Dose.tenant_id == tenant.id, Dose.id == dose_id)
        )
        if dose is None or not can(actor, READ, where(tenant.id, dose)):
            raise NotFound(NO_DOSE)
        rows = (
            await uow.session.scalars(
                select(DoseRevision)
                .where(DoseRevision.tenant_id == tenant.id, DoseRevision.dose_id == dose.id)
                .order_by(DoseRevision.version)
            )
        ).all()
        revisions = [
            RevisionOut(
                version=r.version,
                action=r.action,
                before=dict(r.before),
                before_personal=r.before_personal,
                reason=r.reason,
                changed_by=r.changed_by,
                approved_by=r.approved_by,
                changed_at=r.changed_at,
            )
            for r in rows
        ]
        await audit.record(
            uow,
            by=actor.principal,
            action="dose.revisions.read",
            object_type="beneficiary",
            object_id=dose.beneficiary_id,
            details={"dose_id": str(dose.id), "revisions": len(revisions)},
        )
        return RevisionsOut(
            dose_id=dose.id, version=dose.version, status=dose.status, revisions=revisions
        )
