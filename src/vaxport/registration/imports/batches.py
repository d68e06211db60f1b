"""Writing one batch of imported people: one transaction, new people only.

A row whose ID document is already registered in the tenant changes nothing and counts as
``existing`` (so re-running a file creates no duplicates). New people get their record and
document (personal fields encrypted under their own key, the number blind-indexed), an
audit entry and a ``beneficiary.registered`` event each, a duplicate flag for each
look-alike (one query per batch), and the batch's problems and the import's counters are
written in the same transaction: a crash loses the batch whole and a re-run redoes exactly it.

Two imports racing on the same ID (or a reference collision) make the batch's insert fail
on a unique index; the batch is then redone row by row, each row in a savepoint, and a row
whose document appeared meanwhile becomes ``existing``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from vaxport.core import audit
from vaxport.core.clock import utcnow
from vaxport.core.crypto import get_keyring
from vaxport.core.crypto.blind import blind_index_candidates_sync
from vaxport.core.crypto.models import PURPOSE_DATA, PURPOSE_INDEX
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.ids import uuid7
from vaxport.core.imports.engine import RowProblem
from vaxport.core.outbox import emit
from vaxport.core.principal import Principal
from vaxport.registration.imports.row import ImportRow
from vaxport.registration.models import (
    STATUS_ACTIVE,
    Beneficiary,
    BeneficiaryDocument,
    RegistrationImport,
)
from vaxport.registration.models import ImportProblem as ProblemRow
from vaxport.registration.writes import MAX_LOOKALIKE_FLAGS, duplicate_flag, new_reference

_ROW_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Job:
    """Who runs which import of which tenant."""

    tenant_id: uuid.UUID
    import_id: uuid.UUID
    actor_id: uuid.UUID | None
    actor_role: str

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


async def _existing(
    session: AsyncSession, tenant_id: uuid.UUID, rows: Sequence[ImportRow]
) -> set[int]:
    """Indexes (into ``rows``) of rows whose ID document is already registered."""
    if not rows:
        return set()

    def candidates(s: Session) -> dict[tuple[str, bytes], int]:
        out: dict[tuple[str, bytes], int] = {}
        for i, row in enumerate(rows):
            id_type, number = row.document
            for bidx in blind_index_candidates_sync(
                s, tenant_id=tenant_id, kind="id_number", value=number
            ):
                out[(id_type, bidx)] = i
        return out

    wanted = await session.run_sync(candidates)
    if not wanted:
        return set()
    found = await session.execute(
        select(BeneficiaryDocument.id_type, BeneficiaryDocument.number_bidx).where(
            BeneficiaryDocument.tenant_id == tenant_id,
            BeneficiaryDocument.number_bidx.in_([bidx for _, bidx in wanted]),
        )
    )
    return {wanted[(t, b)] for t, b in found if b is not None and (t, b) in wanted}


def _new(job: Job, row: ImportRow) -> tuple[Beneficiary, BeneficiaryDocument]:
    m = row.member
    person = Beneficiary(
        id=uuid7(),
        tenant_id=job.tenant_id,
        account_id=None,
        reference=new_reference(),
        given_name=m.given_name,
        family_name=m.family_name,
        birth_date=m.birth_date,
        birth_year=m.birth_year,
        sex=m.sex,
        phone=m.phone,
        email=m.email,
        match=m.match,
        region_code=m.region_code,
        preferred_locale=m.preferred_locale,
        guardian_relation=m.guardian_relation,
        created_via="import",
        created_by=job.actor_id,
    )
    id_type, number = row.document
    document = BeneficiaryDocument(
        tenant_id=job.tenant_id, beneficiary_id=person.id, id_type=id_type, number=number
    )
    return person, document


async def _keys_for(uow: UnitOfWork, job: Job, person_ids: list[uuid.UUID]) -> None:
    """Every new person's own key, in one statement instead of a lookup and insert each."""
    await uow.session.run_sync(
        lambda s: get_keyring().create_subject_keys(s, job.tenant_id, person_ids)
    )


Created = list[tuple[uuid.UUID, ImportRow]]


async def _insert_all(uow: UnitOfWork, job: Job, rows: Sequence[ImportRow]) -> Created:
    skip = await _existing(uow.session, job.tenant_id, rows)
    kept = [row for i, row in enumerate(rows) if i not in skip]
    made = [_new(job, row) for row in kept]
    await _keys_for(uow, job, [person.id for person, _ in made])
    uow.session.add_all([person for person, _ in made])
    await uow.session.flush()  # people first: documents point at them
    uow.session.add_all([document for _, document in made])
    await uow.session.flush()
    return [(person.id, row) for (person, _), row in zip(made, kept, strict=True)]


async def _insert_one_by_one(uow: UnitOfWork, job: Job, rows: Sequence[ImportRow]) -> Created:
    session = uow.session

    def warm(s: Session) -> None:
        # Keys a savepoint might otherwise create and then roll back under our feet.
        keyring = get_keyring()
        keyring.active(s, job.tenant_id, PURPOSE_DATA)
        keyring.active(s, job.tenant_id, PURPOSE_INDEX)

    await session.run_sync(warm)
    created: Created = []
    for row in rows:
        for attempt in range(_ROW_ATTEMPTS):
            if await _existing(session, job.tenant_id, [row]):
                break
            person, document = _new(job, row)
            try:
                async with session.begin_nested():
                    session.add(person)
                    await session.flush()
                    session.add(document)
                    await session.flush()
            except IntegrityError:
                if attempt == _ROW_ATTEMPTS - 1:
                    raise
                continue  # the document arrived meanwhile, or the reference was taken
            created.append((person.id, row))
            break
    return created


async def _flag_lookalikes(uow: UnitOfWork, job: Job, created: Created) -> int:
    """Open a duplicate flag for each new person and each active look-alike (same match
    key and region, as registration flags one person), in one query for the batch.

    Two look-alikes new in the same batch are flagged once (the later row against the
    earlier), as if they had been registered one after the other.
    """
    order = {person_id: i for i, (person_id, _) in enumerate(created)}

    def candidates(s: Session) -> dict[tuple[bytes, str], list[int]]:
        out: dict[tuple[bytes, str], list[int]] = {}
        for i, (_, row) in enumerate(created):
            for bidx in blind_index_candidates_sync(
                s, tenant_id=job.tenant_id, kind="text", value=row.member.match
            ):
                out.setdefault((bidx, row.member.region_code), []).append(i)
        return out

    wanted = await uow.session.run_sync(candidates)
    # The oldest few of each (key, region): a crowd of namesakes costs each newcomer at
    # most MAX_LOOKALIKE_FLAGS flags, and the query returns no more than that per crowd.
    ranked = (
        select(
            Beneficiary.id,
            Beneficiary.match_bidx,
            Beneficiary.region_code,
            func.row_number()
            .over(
                partition_by=(Beneficiary.match_bidx, Beneficiary.region_code),
                order_by=Beneficiary.id,
            )
            .label("n"),
        )
        .where(
            Beneficiary.tenant_id == job.tenant_id,
            Beneficiary.match_bidx.in_(sorted({bidx for bidx, _ in wanted})),
            Beneficiary.status == STATUS_ACTIVE,
        )
        .subquery()
    )
    found = await uow.session.execute(
        select(ranked.c.id, ranked.c.match_bidx, ranked.c.region_code)
        .where(ranked.c.n <= MAX_LOOKALIKE_FLAGS + 1)
        .order_by(ranked.c.id)
    )
    now = utcnow()
    pairs: set[tuple[int, uuid.UUID]] = set()
    flags = [0] * len(created)
    for other, bidx, region in found:
        for i in wanted.get((bidx, region), ()):
            # Older than this batch, or earlier in it (so a pair in the batch flags once).
            if order.get(other, -1) < i and flags[i] < MAX_LOOKALIKE_FLAGS:
                pairs.add((i, other))
                flags[i] += 1
    uow.session.add_all(
        [
            duplicate_flag(
                tenant_id=job.tenant_id,
                person_id=created[i][0],
                candidate_id=other,
                region_code=created[i][1].member.region_code,
                facility_id=None,
                now=now,
            )
            for i, other in sorted(pairs)
        ]
    )
    return len(pairs)


async def _finish_batch(
    uow: UnitOfWork,
    job: Job,
    *,
    created: Created,
    existing: int,
    problems: Sequence[RowProblem],
    counts: Counts,
    last: bool,
) -> None:
    if created:
        await _flag_lookalikes(uow, job, created)
        for person_id, row in created:
            # No round trip: outbox rows are flushed with the batch.
            await emit(
                uow,
                "beneficiary.registered",
                {
                    "beneficiary_id": str(person_id),
                    "region_code": row.member.region_code,
                    "facility_id": None,
                    "created_via": "import",
                },
            )
        details = {"via": "import", "import_id": str(job.import_id)}
        await audit.record_many(
            uow,
            by=job.by,
            entries=[
                {
                    "action": "beneficiary.create",
                    "object_type": "beneficiary",
                    "object_id": person_id,
                    "details": details,
                }
                for person_id, _ in created
            ],
        )
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
        "rows_created": RegistrationImport.rows_created + len(created),
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
                "created": counts.created_before + len(created),
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
    try:
        async with db.transaction(tenant_id=job.tenant_id) as uow:
            created = await _insert_all(uow, job, rows)
            existing = len(rows) - len(created)
            await _finish_batch(
                uow, job, created=created, existing=existing, problems=problems, counts=counts,
                last=last,
            )  # fmt: skip
    except IntegrityError:
        async with db.transaction(tenant_id=job.tenant_id) as uow:
            created = await _insert_one_by_one(uow, job, rows)
            existing = len(rows) - len(created)
            await _finish_batch(
                uow, job, created=created, existing=existing, problems=problems, counts=counts,
                last=last,
            )  # fmt: skip
    return len(created), existing


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
