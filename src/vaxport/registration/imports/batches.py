"""Writing one batch of imported people: one transaction, new people only.

The people enter by registration's one way, :func:`~vaxport.registration.intake.add_members`
(records, documents, look-alike flags, audit entries and events, a statement each per
batch). A row whose ID document is already registered in the tenant changes nothing and
counts as ``existing`` (so re-running a file creates no duplicates). The batch's problems
and the import's counters are written in the same transaction: a crash loses the batch
whole and a re-run redoes exactly it.

Two imports racing on the same ID (or a reference collision) make the batch's insert fail
on a unique index; the batch is then redone row by row, each row in a savepoint, and a row
whose document appeared meanwhile becomes ``existing``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from vaxport.core import audit
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.imports.engine import RowProblem
from vaxport.core.principal import Principal
from vaxport.registration.imports.row import ImportRow
from vaxport.registration.intake import NewMember, add_members
from vaxport.registration.models import ImportProblem as ProblemRow
from vaxport.registration.models import RegistrationImport
from vaxport.registration.writes import AlreadyRegistered, ReferenceTakenError


@dataclass(frozen=True, slots=True)
class Job:
    """Who runs which import of which tenant."""

    tenant_id: uuid.UUID
    import_id: uuid.UUID
    actor_id: uuid.UUID | None
    actor_role: str
    tenant_code: str

    @property
    def by(self) -> Principal:
        """Who the audit log says ran the import: its creator, or the system."""
        return Principal.staff_or_system(self.actor_id, self.actor_role)


class ImportMovedOn(Exception):  # noqa: N818 - a state, not a failure
    """The import is no longer where this run left it (another delivery of its event is
    working on it, or it ended): this run's batch rolls back and the run stops."""


@dataclass(frozen=True, slots=True)
class Counts:
    """The import's totals: read, invalid and complete after this batch (the reader's),
    read, created and existing before it."""

    read_before: int
    rows_read: int
    rows_invalid: int
    complete: bool
    created_before: int
    existing_before: int


async def _finish_batch(
    uow: UnitOfWork,
    job: Job,
    *,
    created: int,
    existing: int,
    problems: Sequence[RowProblem],
    counts: Counts,
    last: bool,
) -> None:
    if problems:
        uow.session.add_all(
            [
                ProblemRow(
                    tenant_id=job.tenant_id,
                    import_id=job.import_id,
                    row=p.row,
                    field=p.field[:64],
                    reason=p.reason[:300],
                )
                for p in problems
            ]
        )
    values: dict[str, Any] = {
        "rows_read": counts.rows_read,
        "rows_invalid": counts.rows_invalid,
        "rows_created": RegistrationImport.rows_created + created,
        "rows_existing": RegistrationImport.rows_existing + existing,
    }
    if last:
        values.update(status="done", finished_at=utcnow())
        await audit.record(
            uow,
            by=job.by,
            action="beneficiary.import.finish",
            object_type="registration_import",
            object_id=job.import_id,
            details={
                "rows": counts.rows_read,
                "created": counts.created_before + created,
                "existing": counts.existing_before + existing,
                "invalid": counts.rows_invalid,
                "complete": counts.complete,
            },
        )
    moved: Any = await uow.session.execute(
        update(RegistrationImport)
        .where(
            RegistrationImport.id == job.import_id,
            RegistrationImport.tenant_id == job.tenant_id,
            RegistrationImport.status == "running",
            RegistrationImport.rows_read == counts.read_before,
        )
        .values(values)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise ImportMovedOn


async def write_batch(
    db: Database,
    job: Job,
    *,
    rows: Sequence[ImportRow],
    problems: Sequence[RowProblem],
    counts: Counts,
    last: bool,
) -> tuple[int, int]:
    """Write one batch and its bookkeeping in one transaction: ``(created, existing)``."""
    for one_by_one in (False, True):
        try:
            async with db.transaction(tenant_id=job.tenant_id) as uow:
                added = await add_members(
                    uow,
                    [NewMember(row.member) for row in rows],
                    acting=job.by,
                    tenant_id=job.tenant_id,
                    tenant_code=job.tenant_code,
                    created_via="import",
                    registered="skip",
                    one_by_one=one_by_one,
                    details={"import_id": str(job.import_id)},
                )
                created, existing = len(added), len(rows) - len(added)
                await _finish_batch(
                    uow, job, created=created, existing=existing, problems=problems,
                    counts=counts, last=last,
                )  # fmt: skip
            return created, existing
        except (AlreadyRegistered, ReferenceTakenError, IntegrityError):
            if one_by_one:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


async def mark_failed(db: Database, job: Job, reason: str) -> None:
    """End the import as failed with one ``file`` problem (row 1), audited."""
    async with db.transaction(tenant_id=job.tenant_id) as uow:
        uow.session.add(
            ProblemRow(
                tenant_id=job.tenant_id, import_id=job.import_id, row=1, field="file",
                reason=reason[:300],
            )
        )  # fmt: skip
        await uow.session.execute(
            update(RegistrationImport)
            .where(
                RegistrationImport.id == job.import_id,
                RegistrationImport.tenant_id == job.tenant_id,
                RegistrationImport.status == "running",
            )
            .values(status="failed", finished_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        await audit.record(
            uow,
            by=job.by,
            action="beneficiary.import.fail",
            object_type="registration_import",
            object_id=job.import_id,
            details={"reason": reason},
        )
