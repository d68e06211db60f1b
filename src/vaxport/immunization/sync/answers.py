"""A sync batch's answers: one per record, by its position in the batch (``accepted``,
``duplicate``, ``conflict``, or ``rejected`` with the problem it met, field and reason),
and what earlier uploads wrote under the batch's UUIDs, which answers a resend.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core.db import Database
from vaxport.core.errors import Problem, ValidationFailed, error_code, field_error
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor
from vaxport.immunization.models import Dose
from vaxport.immunization.sync.schemas import DoseRecord, RecordError, RecordResult, WalkInRecord
from vaxport.tenancy.service import TenantInfo

__all__ = ["Batch", "Known", "answered_before", "doses_of", "rejection"]

_REASONS: dict[str, tuple[str, str]] = {
    "device-clock-ahead": (
        "device_time",
        N_("is more than a day ahead of the server: set the device's clock and sync again"),
    ),
    "client-id-repeated": ("client_id", N_("is used by an earlier record of this batch")),
    "client-id-taken": (
        "client_id",
        N_("is the id of another record: give each record a new random UUID"),
    ),
    "person-missing": (
        "beneficiary_id",
        N_("is required: name the person, or the walk-in record of this batch"),
    ),
    "person-twice": (
        "person_client_id",
        N_("give the person by beneficiary_id or person_client_id, not both"),
    ),
    "walk-in-rejected": (
        "person_client_id",
        N_("its walk-in record was not registered ({why}): correct and resend both"),
    ),
    "unknown-person": ("beneficiary_id", N_("is not a person you can record a dose for")),
}


def rejection(code: str, **params: Any) -> ValidationFailed:
    field, reason = _REASONS[code]
    problem = ValidationFailed(errors=[field_error(field, reason, code=code, **params)])
    problem.slug = code
    return problem


@dataclass(slots=True)
class Batch:
    """The batch being applied: its answers by position, and what the caller may touch."""

    db: Database
    tenant: TenantInfo
    actor: Actor
    device_id: str
    now: dt.datetime
    results: list[RecordResult | None]

    def answer(self, index: int, rec: WalkInRecord | DoseRecord, **fields: Any) -> RecordResult:
        out = RecordResult(index=index, client_id=rec.client_id, kind=rec.kind, **fields)
        self.results[index] = out
        return out

    def reject(
        self,
        index: int,
        rec: WalkInRecord | DoseRecord | None,
        problem: Problem,
        *,
        prefix: str = "",
        raw: Any = None,
    ) -> RecordResult:
        out = RecordResult(
            index=index,
            client_id=rec.client_id if rec is not None else _raw_id(raw),
            kind=rec.kind if rec is not None else _raw_kind(raw),
            outcome="rejected",
            error=_error(problem, prefix),
        )
        self.results[index] = out
        return out


@dataclass(frozen=True, slots=True)
class Known:
    """What earlier uploads wrote under this batch's UUIDs."""

    people: dict[uuid.UUID, uuid.UUID | None]  # id -> created_by
    doses: dict[uuid.UUID, tuple[uuid.UUID, int, uuid.UUID | None]]  # id -> person, n, by
    conflicts: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID, uuid.UUID, uuid.UUID | None]]


async def doses_of(
    session: AsyncSession, tenant_id: uuid.UUID, ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[uuid.UUID, int, uuid.UUID | None]]:
    """The doses written under these UUIDs: id -> (person, dose number, recorded by)."""
    found = await session.execute(
        select(Dose.id, Dose.beneficiary_id, Dose.dose_number, Dose.recorded_by).where(
            Dose.tenant_id == tenant_id, Dose.id.in_(ids)
        )
    )
    return {d: (p, n, by) for d, p, n, by in found}


def answered_before(batch: Batch, index: int, rec: WalkInRecord | DoseRecord, known: Known) -> bool:
    """Answer a record an earlier upload applied (``duplicate``, or its ``conflict``)."""
    me = batch.actor.account_id
    cid = rec.client_id
    if isinstance(rec, WalkInRecord) and cid in known.people:
        if known.people[cid] != me:
            batch.reject(index, rec, rejection("client-id-taken"))
        else:
            batch.answer(index, rec, outcome="duplicate", id=cid, beneficiary_id=cid)
        return True
    if isinstance(rec, DoseRecord) and cid in known.doses:
        person, number, by = known.doses[cid]
        if by != me:
            batch.reject(index, rec, rejection("client-id-taken"))
        else:
            batch.answer(
                index, rec, outcome="duplicate", id=cid, beneficiary_id=person, dose_number=number
            )
        return True
    if isinstance(rec, DoseRecord) and cid in known.conflicts:
        conflict_id, existing, person, by = known.conflicts[cid]
        if by != me:
            batch.reject(index, rec, rejection("client-id-taken"))
        else:
            batch.answer(
                index,
                rec,
                outcome="conflict",
                existing_id=existing,
                conflict_id=conflict_id,
                beneficiary_id=person,
            )
        return True
    return False


def _error(problem: Problem, prefix: str) -> RecordError:
    body = problem.to_dict()
    first = problem.errors[0] if problem.errors else None
    field = first["field"] if first is not None else ""
    if prefix and field and not field.startswith(prefix):
        field = prefix + field
    return RecordError(
        type=str(body["type"]),
        status=problem.status,
        code=error_code(first) if first is not None else problem.slug,
        field=field or "body",
        reason=first["reason"] if first is not None else problem.detail,
    )


def _raw_id(raw: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw.get("client_id"))) if isinstance(raw, dict) else None
    except ValueError:
        return None


def _raw_kind(raw: Any) -> str | None:
    kind = raw.get("kind") if isinstance(raw, dict) else None
    return kind if kind in ("walk_in", "dose") else None
