"""Running a beneficiary import: the shared streamed engine over the registration rows.

:func:`run` takes an import that :mod:`imports` recorded and works through its file a
batch at a time (``batches``), updating the import's counters with every batch, so
progress is visible and a crash loses at most the batch in flight. It is resumable: the
rows a previous run already wrote (``rows_read``) are replayed only to remember their ID
documents (in-file duplicates are still caught) and the work continues after them. With a
``deadline`` it stops after the batch that passes it and answers False: the outbox handler
then asks to be called again, so a million-row file never holds one handler call for long.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vaxport.core.db import Database
from vaxport.core.errors import ValidationFailed
from vaxport.core.imports.engine import Progress, Reader, RowProblem, Tally, run_batches
from vaxport.core.imports.readers import Kind, Source, open_source
from vaxport.core.logging import get_logger
from vaxport.registration.imports import service as imports
from vaxport.registration.imports.batches import (
    Counts,
    ImportMovedOn,
    Job,
    mark_failed,
    write_batch,
)
from vaxport.registration.imports.row import ImportRow, check_header, parse_row
from vaxport.tenancy.service import TenantInfo

log = get_logger(__name__)

BATCH_SIZE = 500


class _SliceOver(Exception):  # noqa: N818 - control flow, never escapes this module
    """The deadline passed: stop after the batch just written."""


@dataclass
class _State:
    read: int
    created: int
    existing: int


async def _open(
    db: Database, job: Job, tenant: TenantInfo, path: Path, file_kind: str
) -> tuple[Source, list[str]] | None:
    """The file and its column names; None after failing the import when it cannot be read
    (checked at upload: only a file removed or replaced since gets here)."""
    if not await asyncio.to_thread(path.is_file):
        await mark_failed(db, job, "the uploaded file is no longer available; upload it again")
        return None
    kind: Kind = "xlsx" if file_kind == "xlsx" else "csv"
    try:
        source = await asyncio.to_thread(open_source, path, kind)
    except ValidationFailed as exc:
        await mark_failed(db, job, exc.errors[0]["reason"] if exc.errors else "unreadable file")
        return None
    header, problems = check_header(source.header, tenant)
    if problems:
        source.close()
        await mark_failed(db, job, "the file's columns are not the import format")
        return None
    return source, header


async def run(
    *,
    db: Database,
    tenant: TenantInfo,
    import_id: uuid.UUID,
    path: Path,
    actor_role: str,
    deadline: float | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> bool:
    """Work on the import until its file ends (True) or ``deadline`` passes (False).

    ``deadline`` is a ``time.monotonic()`` value. An import already done or failed is
    left alone (True): the outbox may deliver its event more than once.
    """
    imp = await imports.find(db, tenant.id, import_id)
    if imp is None:
        raise LookupError(f"import {import_id} not found")
    if imp.status != "running":
        return True
    job = Job(tenant.id, import_id, imp.created_by, actor_role, tenant.code)
    opened = await _open(db, job, tenant, path, imp.file_kind)
    if opened is None:
        return True
    source, header = opened
    pending: list[RowProblem] = []
    tally = Tally(
        sink=lambda row, field, reason: pending.append(RowProblem(row, field, reason)),
        rows=imp.rows_read,
        invalid=imp.rows_invalid,
    )
    within = imp.region_code
    reader: Reader[ImportRow] = Reader(
        source=source,
        parse=lambda number, record: parse_row(number, header, record, tenant, within),
        key=lambda row: ("id_number", "\x00".join(row.document)),
        tally=tally,
        batch_size=BATCH_SIZE,
        skip=imp.rows_read,
    )
    state = _State(read=imp.rows_read, created=imp.rows_created, existing=imp.rows_existing)

    async def write(batch: list[ImportRow], last: bool) -> None:
        problems = list(pending)
        pending.clear()
        created, existing = await write_batch(
            db,
            job,
            rows=batch,
            problems=problems,
            counts=Counts(
                read_before=state.read,
                rows_read=tally.rows,
                rows_invalid=tally.invalid,
                complete=tally.complete,
                created_before=state.created,
                existing_before=state.existing,
            ),
            last=last,
        )
        state.read = tally.rows
        state.created += created
        state.existing += existing
        if not last and deadline is not None and time.monotonic() >= deadline:
            raise _SliceOver

    try:
        await run_batches(reader, write, progress)
    except _SliceOver:
        return False
    except ImportMovedOn:
        log.info("registration.import_moved_on", import_id=str(import_id))
        return True
    log.info(
        "registration.imported",
        tenant_id=str(tenant.id),
        import_id=str(import_id),
        rows=tally.rows,
        created=state.created,
        existing=state.existing,
        invalid=tally.invalid,
    )
    return True
