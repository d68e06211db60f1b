"""Subject-access export and erasure of one person, for operators (``vaxport person``).

The export holds everything the registration context keeps about the person, decrypted:
the record, ID documents, correction requests (with previous values), duplicate flags
and merges naming them, their notification preferences, the audit entries about
them or their corrections, flags and merges, and what other contexts add through
``export_sections`` (their dose records). Notification messages sent to them are not
included: the notifications context offers no per-person message listing yet (messages
carry ``subject_id``; the export should add them once such a read exists).

Both acts are audited (role ``operator``, no personal data in the entry).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select

from vaxport.audit.service import MAX_LIMIT, list_entries
from vaxport.core import audit
from vaxport.core.crypto import blind_match
from vaxport.core.db import Database
from vaxport.core.errors import NotFound, ValidationFailed, field_error
from vaxport.core.principal import OPERATOR
from vaxport.identity.service import AUDITOR
from vaxport.notifications.service import read_preferences
from vaxport.registration.changes import erase_in
from vaxport.registration.export_sections import extra_sections
from vaxport.registration.models import (
    Beneficiary,
    BeneficiaryDocument,
    CorrectionRequest,
    DuplicateFlag,
    Merge,
)
from vaxport.registration.presenters import member_out
from vaxport.tenancy.service import TenantInfo, validate_id_number


@dataclass(frozen=True, slots=True)
class _OperatorAuditReach:
    """The operator running the command reads the audit log with national reach."""

    tenant_id: uuid.UUID
    account_id: uuid.UUID = field(default_factory=lambda: uuid.UUID(int=0))
    role: str = AUDITOR
    facility_id: uuid.UUID | None = None
    is_national: bool = True

    def covers_region(self, code: str) -> bool:
        return True


async def find_person(
    *,
    db: Database,
    tenant: TenantInfo,
    beneficiary_id: uuid.UUID | None = None,
    id_type: str | None = None,
    number: str | None = None,
) -> uuid.UUID:
    """The id of the person named by id or by one ID document; NotFound if none."""
    if beneficiary_id is not None:
        return beneficiary_id
    if not id_type or not number:
        raise ValidationFailed(
            "name the person by --beneficiary-id or by --id-type and --id-number",
            errors=[field_error("person", "give a beneficiary id or an ID document")],
        )
    value = validate_id_number(config=tenant.config, id_type=id_type, value=number)
    async with db.read(tenant_id=tenant.id) as session:
        match = await blind_match(
            session,
            BeneficiaryDocument.number_bidx,
            tenant_id=tenant.id,
            kind="id_number",
            value=value,
        )
        found = await session.scalar(
            select(BeneficiaryDocument.beneficiary_id).where(
                BeneficiaryDocument.tenant_id == tenant.id,
                BeneficiaryDocument.id_type == id_type,
                match,
            )
        )
    if found is None:
        raise NotFound("no person with this ID document")
    return found


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _correction(c: CorrectionRequest) -> dict[str, Any]:
    return {
        "id": str(c.id),
        "field": c.field,
        "status": c.status,
        "proposed": c.proposed,
        "previous": c.previous,
        "reason": c.reason,
        "decision_note": c.decision_note,
        "requested_by": str(c.requested_by),
        "created_at": _iso(c.created_at),
        "decided_by": str(c.decided_by) if c.decided_by else None,
        "decided_at": _iso(c.decided_at),
    }


async def export_person(
    *, db: Database, tenant: TenantInfo, beneficiary_id: uuid.UUID
) -> dict[str, Any]:
    """Everything held about the person, as JSON-ready data; audited as an export."""
    pid = beneficiary_id
    async with db.transaction(tenant_id=tenant.id) as uow:
        s = uow.session
        person = await s.scalar(
            select(Beneficiary).where(Beneficiary.tenant_id == tenant.id, Beneficiary.id == pid)
        )
        if person is None:
            raise NotFound("beneficiary not found")
        docs = list(
            await s.scalars(
                select(BeneficiaryDocument)
                .where(
                    BeneficiaryDocument.tenant_id == tenant.id,
                    BeneficiaryDocument.beneficiary_id == pid,
                )
                .order_by(BeneficiaryDocument.id)
            )
        )
        corrections = list(
            await s.scalars(
                select(CorrectionRequest)
                .where(
                    CorrectionRequest.tenant_id == tenant.id,
                    CorrectionRequest.beneficiary_id == pid,
                )
                .order_by(CorrectionRequest.id)
            )
        )
        flags = list(
            await s.scalars(
                select(DuplicateFlag)
                .where(
                    DuplicateFlag.tenant_id == tenant.id,
                    or_(DuplicateFlag.beneficiary_id == pid, DuplicateFlag.candidate_id == pid),
                )
                .order_by(DuplicateFlag.id)
            )
        )
        merges = list(
            await s.scalars(
                select(Merge)
                .where(
                    Merge.tenant_id == tenant.id,
                    or_(Merge.merged_id == pid, Merge.survivor_id == pid),
                )
                .order_by(Merge.id)
            )
        )
        prefs = await read_preferences(s, tenant_id=tenant.id, subject_id=pid)
        record = member_out(person, docs).model_dump(mode="json")
        record["account_id"] = str(person.account_id) if person.account_id else None
        record["vaccinated_at"] = _iso(person.vaccinated_at)
        data: dict[str, Any] = {
            "tenant": tenant.code,
            "exported_at": dt.datetime.now(dt.UTC).isoformat(),
            "beneficiary": record,
            "corrections": [_correction(c) for c in corrections],
            "duplicate_flags": [
                {
                    "id": str(f.id),
                    "beneficiary_id": str(f.beneficiary_id),
                    "candidate_id": str(f.candidate_id),
                    "reason": f.reason,
                    "status": f.status,
                    "created_at": _iso(f.created_at),
                }
                for f in flags
            ],
            "merges": [
                {
                    "id": str(m.id),
                    "survivor_id": str(m.survivor_id),
                    "merged_id": str(m.merged_id),
                    "merged_at": _iso(m.merged_at),
                    "undone_at": _iso(m.undone_at),
                }
                for m in merges
            ],
            "notification_preferences": {
                "preferred_kind": prefs.preferred_kind,
                "opt_out_non_essential": prefs.opt_out_non_essential,
            },
            "notification_messages": None,
            "notes": [
                "notification_messages: not available, the notifications context offers "
                "no per-person message listing yet"
            ],
        }
        # Records other contexts keep about the person (doses, adverse events).
        data.update(await extra_sections(s, tenant.id, pid))
        await audit.record(
            uow,
            by=OPERATOR,
            action="beneficiary.export",
            object_type="beneficiary",
            object_id=pid,
        )
    related = [pid] + [c.id for c in corrections] + [f.id for f in flags] + [m.id for m in merges]
    data["audit"] = await _audit_about(db, tenant, related)
    return data


async def _audit_about(
    db: Database, tenant: TenantInfo, object_ids: list[uuid.UUID]
) -> list[dict[str, Any]]:
    reach = _OperatorAuditReach(tenant_id=tenant.id)
    out: list[dict[str, Any]] = []
    for oid in object_ids:
        cursor: str | None = None
        while True:
            page = await list_entries(
                db=db, actor=reach, object_id=str(oid), cursor=cursor, limit=MAX_LIMIT
            )
            out.extend(_entry(e.model_dump()) for e in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
    out.sort(key=lambda e: str(e.get("occurred_at")))
    return out


def _entry(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (
            v.isoformat()
            if isinstance(v, dt.datetime)
            else str(v)
            if isinstance(v, uuid.UUID)
            else v
        )
        for k, v in values.items()
    }


async def erase_person(*, db: Database, tenant: TenantInfo, beneficiary_id: uuid.UUID) -> None:
    """Erase a never-vaccinated person (the same rules as ``DELETE``), as the operator."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        person = await uow.session.scalar(
            select(Beneficiary)
            .where(Beneficiary.tenant_id == tenant.id, Beneficiary.id == beneficiary_id)
            .with_for_update()
        )
        if person is None:
            raise NotFound("beneficiary not found")
        await erase_in(uow, tenant, person, OPERATOR)
