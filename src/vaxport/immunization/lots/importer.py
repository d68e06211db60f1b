"""Bulk registration of lots from CSV or XLSX, through the shared import engine.

Columns (case-insensitive; ``manufacturer`` and ``doses_per_vial`` optional):
``product_id, lot_number, manufacturer, expires_on, doses_per_vial``. ``expires_on`` is
``YYYY-MM-DD``. Each row is checked as the API checks a lot (same fields, same reasons),
and every invalid row goes to the report (``row,field,reason``) while the valid rows are
registered, a batch per transaction. A lot already registered with the same expiry and
vial size is ``unchanged``, so re-uploading a file changes nothing; one registered with
other values is a row error (correct a lot through the API or its page, never by file).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError

from vaxport.core import audit
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import ValidationFailed, field_error
from vaxport.core.i18n import N_
from vaxport.core.ids import uuid7
from vaxport.core.imports.engine import (
    CsvReport,
    Errors,
    Progress,
    Reader,
    Tally,
    cells_of,
    check_columns,
    run_batches,
)
from vaxport.core.imports.readers import Kind, open_source
from vaxport.identity.service import Actor, Resource, authorize
from vaxport.immunization.lots import writes
from vaxport.immunization.lots.schemas import LotImportErrorOut, LotImportSummary
from vaxport.immunization.models import Lot
from vaxport.tenancy.service import TenantInfo

BATCH_SIZE = 500
COLUMNS = ("product_id", "lot_number", "manufacturer", "expires_on", "doses_per_vial")
REQUIRED = ("product_id", "lot_number", "expires_on")
DIFFERENT = N_("is registered already with another expiry or vial size: correct that lot")


@dataclass(frozen=True, slots=True)
class Row:
    """A valid row: its number in the file and the checked lot."""

    row: int
    lot: writes.NewLot


def parse_row(
    number: int, header: list[str], record: list[str], tenant: TenantInfo
) -> Row | Errors:
    """The row's checked lot, or every problem found in it (fields are column names)."""
    cells = cells_of(header, record)
    if isinstance(cells, list):
        return cells
    errors: Errors = []
    for name in REQUIRED:
        if not cells.get(name):
            errors.append(field_error(name, N_("is required: fill it in")))
    try:
        expires_on = dt.date.fromisoformat(cells.get("expires_on", ""))
    except ValueError:
        if cells.get("expires_on"):
            errors.append(field_error("expires_on", N_("is not a date: write it as YYYY-MM-DD")))
        expires_on = dt.date.max
    doses: int | None = None
    if text := cells.get("doses_per_vial", ""):
        if text.isdigit():
            doses = int(text)
        else:
            errors.append(
                field_error("doses_per_vial", N_("is not a whole number: type digits only"))
            )
    checked = writes.check_new(
        tenant,
        product_id=cells.get("product_id", ""),
        lot_number=cells.get("lot_number", ""),
        manufacturer=cells.get("manufacturer") or None,
        expires_on=expires_on if expires_on != dt.date.max else writes.EARLIEST_EXPIRY,
        doses_per_vial=doses,
    )
    if isinstance(checked, list):
        already = {e["field"] for e in errors}
        errors += [e for e in checked if e["field"] not in already]
        return sorted(errors, key=lambda e: COLUMNS.index(e["field"]))
    if errors:
        return errors
    return Row(number, checked)


@dataclass
class _Run:
    tally: Tally
    created: int = 0
    unchanged: int = 0

    def summary(self) -> LotImportSummary:
        t = self.tally
        return LotImportSummary(
            rows=t.rows,
            created=self.created,
            unchanged=self.unchanged,
            invalid=t.invalid,
            error_count=t.error_count,
            complete=t.complete,
            errors=[
                LotImportErrorOut(row=p.row, field=p.field, reason=p.reason)
                for p in t.first_problems
            ],
        )


@dataclass
class _Batch:
    created: int = 0
    unchanged: int = 0
    refused: list[tuple[int, Errors]] = field(default_factory=list)


def _same(lot: Lot, new: writes.NewLot) -> bool:
    return lot.expires_on == new.expires_on and lot.doses_per_vial == new.doses_per_vial


async def _write(uow: UnitOfWork, batch: list[Row], tenant: TenantInfo, actor: Actor) -> _Batch:
    result = _Batch()
    keys = [(r.lot.product_id, r.lot.lot_number) for r in batch]
    found = await uow.session.scalars(
        select(Lot).where(
            Lot.tenant_id == tenant.id, tuple_(Lot.product_id, Lot.lot_number).in_(keys)
        )
    )
    existing = {(lot.product_id, lot.lot_number): lot for lot in found}
    now = utcnow()
    new: list[Lot] = []
    for row in batch:
        lot = existing.get((row.lot.product_id, row.lot.lot_number))
        if lot is None:
            new.append(writes.new_row(tenant.id, row.lot, by=actor.principal, now=now))
        elif _same(lot, row.lot):
            result.unchanged += 1
        else:
            result.refused.append((row.row, [field_error("lot_number", DIFFERENT)]))
    if new:
        uow.session.add_all(new)
        await uow.session.flush()
        for lot in new:
            await writes.audit_created(uow, lot, by=actor.principal, source="import")
        result.created = len(new)
    return result


async def _write_batch(
    db: Database, batch: list[Row], run: _Run, tenant: TenantInfo, actor: Actor
) -> None:
    try:
        async with db.transaction(tenant_id=tenant.id) as uow:
            result = await _write(uow, batch, tenant, actor)
    except IntegrityError:
        # A concurrent writer registered one of these lots since we looked; the batch
        # rolled back whole, and looking again finds it.
        async with db.transaction(tenant_id=tenant.id) as uow:
            result = await _write(uow, batch, tenant, actor)
    run.created += result.created
    run.unchanged += result.unchanged
    for number, errors in result.refused:
        run.tally.fail(number, errors)


async def import_file(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    path: Path,
    kind: Kind,
    report: IO[str],
    progress: Callable[[Progress], None] | None = None,
) -> LotImportSummary:
    """Register the lots of ``path``; invalid rows go to ``report`` (CSV).

    Raises ValidationFailed (on ``file`` or column names) when the file cannot be
    imported at all; then nothing is written.
    """
    authorize(actor, "lots:write", Resource(tenant_id=tenant.id), what="lot")
    source = await asyncio.to_thread(open_source, path, kind)
    header, problems = check_columns(
        source.header, lambda name: name if name in COLUMNS else None, REQUIRED
    )
    if problems:
        source.close()
        raise ValidationFailed(N_("the file's columns are not the import format"), errors=problems)
    run = _Run(tally=Tally(sink=CsvReport(report)))
    reader: Reader[Row] = Reader(
        source=source,
        parse=lambda number, record: parse_row(number, header, record, tenant),
        key=lambda row: ("lot_number", f"{row.lot.product_id}\x1f{row.lot.lot_number}"),
        tally=run.tally,
        batch_size=BATCH_SIZE,
    )

    async def write(batch: list[Row], _last: bool) -> None:
        if batch:
            await _write_batch(db, batch, run, tenant, actor)

    await run_batches(reader, write, progress)
    summary = run.summary()
    await audit.record_standalone(
        db,
        tenant_id=tenant.id,
        by=actor.principal,
        action="lot.import",
        object_type="lot_import",
        object_id=uuid7(),
        details={
            "rows": summary.rows,
            "created": summary.created,
            "unchanged": summary.unchanged,
            "invalid": summary.invalid,
            "complete": summary.complete,
        },
    )
    return summary
