"""Bulk import of facilities from CSV or XLSX, streamed and upserted by code in batches.

Rows are read and checked in a worker thread, a batch at a time, so memory stays flat
and the event loop keeps serving; each valid batch is written in one transaction (a
crash loses at most the batch in flight, and re-running the file finishes the job).
A row whose facility already holds exactly those values changes nothing: no new
version, no audit entry, no event, so re-importing a file is a no-op. Every invalid row
goes to the error report (CSV: ``row,field,reason``) and the valid rows still import.
The reading, batching and report are the shared engine's (``core/imports``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from vaxport.core import audit
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import ValidationFailed, field_error
from vaxport.core.i18n import N_
from vaxport.core.ids import uuid7
from vaxport.core.imports.engine import CsvReport, Progress, Reader, Tally, run_batches
from vaxport.core.imports.readers import Kind, open_source
from vaxport.core.logging import get_logger
from vaxport.core.principal import SYSTEM, Principal
from vaxport.facilities import directory, events, writes
from vaxport.facilities.import_row import RowData, check_header, parse_row
from vaxport.facilities.models import Facility
from vaxport.facilities.schemas import ImportErrorOut, ImportSummary
from vaxport.tenancy.service import TenantInfo

log = get_logger(__name__)

BATCH_SIZE = 500
__all__ = ["BATCH_SIZE", "Progress", "import_file"]


@dataclass
class _Run:
    """The state of one import: the tally (rows, problems) and what the batches wrote."""

    tally: Tally
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def summary(self) -> ImportSummary:
        t = self.tally
        return ImportSummary(
            rows=t.rows,
            created=self.created,
            updated=self.updated,
            unchanged=self.unchanged,
            invalid=t.invalid,
            error_count=t.error_count,
            complete=t.complete,
            errors=[
                ImportErrorOut(row=p.row, field=p.field, reason=p.reason) for p in t.first_problems
            ],
        )


@dataclass
class _Batch:
    """What writing one batch did (applied to the run once its transaction committed)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: list[tuple[int, list[dict[str, str]]]] = field(default_factory=list)


async def _update_existing(
    changes: writes.Changes, facility: Facility, row: RowData, *, now: dt.datetime
) -> bool:
    """Bring an existing facility to the row's values; False if it already had them."""
    changed = writes.changed_fields(facility, row.cols)
    if not changed and facility.active == row.active:
        return False
    if changed:
        writes.apply(facility, row.cols, now=now)
        if "vaccines" in changed:
            await writes.replace_vaccines(changes.uow, facility)
        changes.add("facility.update", events.CHANGED, facility, {"changed": changed})
    if facility.active != row.active:
        writes.set_active(facility, row.active, now=now)
        if row.active:
            changes.add("facility.reactivate", events.REACTIVATED, facility)
        else:
            changes.add("facility.deactivate", events.DEACTIVATED, facility)
    return True


async def _write(
    uow: UnitOfWork,
    *,
    batch: list[RowData],
    tenant: TenantInfo,
    by: Principal,
    within_region: str | None,
) -> _Batch:
    """Upsert one batch in ``uow``."""
    now = utcnow()
    result = _Batch()
    changes = writes.Changes(uow, by=by, source="import")
    found = await uow.session.scalars(
        select(Facility)
        .where(Facility.tenant_id == tenant.id, Facility.code.in_([r.code for r in batch]))
        .with_for_update()
    )
    existing = {f.code: f for f in found}
    new: list[Facility] = []
    for row in batch:
        facility = existing.get(row.code)
        if facility is None:
            new.append(
                writes.new_facility(tenant.id, row.code, row.cols, now=now, active=row.active)
            )
        elif not writes.in_scope(tenant, facility.region_code, within_region):
            reason = N_("belongs to a facility outside your region")
            result.refused.append((row.row, [field_error("code", reason)]))
        elif await _update_existing(changes, facility, row, now=now):
            result.updated += 1
        else:
            result.unchanged += 1
    if new:
        uow.session.add_all(new)
        await uow.session.flush()
        await writes.add_vaccines(uow, [(f.id, f.vaccines) for f in new])
        for facility in new:
            changes.add("facility.create", events.CREATED, facility)
        result.created = len(new)
    await changes.flush()
    return result


async def _write_batch(
    db: Database,
    *,
    batch: list[RowData],
    run: _Run,
    tenant: TenantInfo,
    by: Principal,
    within_region: str | None,
) -> int:
    """Write one batch (retried once on a code race); the number of facilities written."""
    try:
        async with db.transaction(tenant_id=tenant.id) as uow:
            result = await _write(
                uow,
                batch=batch,
                tenant=tenant,
                by=by,
                within_region=within_region,
            )
    except IntegrityError:
        # A concurrent writer created one of these codes since we looked; the batch
        # rolled back whole. Looking again finds it, and the row becomes an update.
        async with db.transaction(tenant_id=tenant.id) as uow:
            result = await _write(
                uow,
                batch=batch,
                tenant=tenant,
                by=by,
                within_region=within_region,
            )
    run.created += result.created
    run.updated += result.updated
    run.unchanged += result.unchanged
    for row, errors in result.refused:
        run.tally.fail(row, errors)
    return result.created + result.updated


async def import_file(
    *,
    db: Database,
    cache: Cache,
    tenant: TenantInfo,
    path: Path,
    kind: Kind,
    report: IO[str],
    by: Principal = SYSTEM,
    within_region: str | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> ImportSummary:
    """Import ``path``; invalid rows go to ``report`` (CSV), valid ones are upserted.

    Raises ValidationFailed (on ``file`` or column names) when the file cannot be
    imported at all; then nothing is written.
    """
    source = await asyncio.to_thread(open_source, path, kind)
    header, problems = check_header(source.header, tenant)
    if problems:
        source.close()
        raise ValidationFailed(N_("the file's columns are not the import format"), errors=problems)
    run = _Run(tally=Tally(sink=CsvReport(report)))
    reader: Reader[RowData] = Reader(
        source=source,
        parse=lambda number, record: parse_row(number, header, record, tenant, within_region),
        key=lambda row: ("code", row.code),
        tally=run.tally,
        batch_size=BATCH_SIZE,
    )

    async def write(batch: list[RowData], _last: bool) -> None:
        written = batch and await _write_batch(
            db,
            batch=batch,
            run=run,
            tenant=tenant,
            by=by,
            within_region=within_region,
        )
        if written:
            await directory.invalidate(cache, tenant.id)

    await run_batches(reader, write, progress)
    summary = run.summary()
    await audit.record_standalone(
        db,
        tenant_id=tenant.id,
        by=by,
        action="facility.import",
        object_type="facility_import",
        object_id=uuid7(),
        details={
            "rows": summary.rows,
            "created": summary.created,
            "updated": summary.updated,
            "unchanged": summary.unchanged,
            "invalid": summary.invalid,
            "complete": summary.complete,
        },
    )
    log.info(
        "facilities.imported",
        tenant_id=str(tenant.id),
        rows=summary.rows,
        created=summary.created,
        updated=summary.updated,
        invalid=summary.invalid,
    )
    return summary
