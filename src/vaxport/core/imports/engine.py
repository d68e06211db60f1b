"""The batch loop of a streamed import, knowing nothing of what the rows are.

A context gives a row parser (cells -> its row value, or a list of ``{field, reason}``
problems), the key that must be unique within the file, and an async writer of one batch
(one transaction). The engine reads in a worker thread a batch at a time, so memory stays
flat and the event loop keeps serving: a batch ends after ``batch_size`` rows *read*
(valid or not), so the problems buffered for a batch are bounded too. Each problem goes
to a sink (a CSV report, or a list the writer stores with its batch).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import IO, Generic, TypeVar

from vaxport.core.errors import field_error
from vaxport.core.i18n import N_
from vaxport.core.imports.readers import Source, SourceError
from vaxport.core.imports.seen import SeenKeys
from vaxport.core.spreadsheet import CsvWriter

T = TypeVar("T")
Errors = list[dict[str, str]]
Sink = Callable[[int, str, str], None]
REPORT_HEADER = ("row", "field", "reason")
PROBLEMS_KEPT = 100


@dataclass(frozen=True, slots=True)
class Progress:
    """How far an import has got."""

    rows: int
    fraction: float | None


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One problem of one row: never the cell's value, only where and why."""

    row: int
    field: str
    reason: str


@dataclass
class Tally:
    """Rows read, invalid rows and problems so far; each problem goes to ``sink``."""

    sink: Sink
    rows: int = 0
    invalid: int = 0
    error_count: int = 0
    complete: bool = True
    first_problems: list[RowProblem] = field(default_factory=list)

    def fail(self, row: int, errors: Errors) -> None:
        """Count ``row`` invalid and report each of its problems."""
        self.invalid += 1
        for e in errors:
            self.error_count += 1
            self.sink(row, e["field"], e["reason"])
            if len(self.first_problems) < PROBLEMS_KEPT:
                self.first_problems.append(RowProblem(row, e["field"], e["reason"]))


def check_columns(
    header: list[str], resolve: Callable[[str], str | None], required: tuple[str, ...]
) -> tuple[list[str], Errors]:
    """A header's column names as ``resolve`` normalises them (lower-cased input; None:
    unknown), and every problem: unknown, repeated and missing required columns.

    Unknown columns are kept as ``""`` so the names stay aligned with the cells.
    """
    names: list[str] = []
    errors: Errors = []
    for raw in header:
        name = resolve(raw.strip().lower())
        if name is None:
            errors.append(field_error(raw or "(empty)", N_("is not a column of the import format")))
            name = ""
        elif name in names:
            errors.append(field_error(raw, N_("appears more than once")))
        names.append(name)
    errors += [field_error(c, N_("is a required column")) for c in required if c not in names]
    return names, errors


def cells_of(header: list[str], record: list[str]) -> dict[str, str] | Errors:
    """A row's trimmed cells by column name, or its error when it has more cells than
    the header names (unknown columns, named ``""``, are left out)."""
    if len(record) > len(header):
        return [
            field_error(
                "row",
                N_("has {cells} cells; the header names {columns}"),
                cells=len(record),
                columns=len(header),
            )
        ]
    return {name: value.strip() for name, value in zip(header, record, strict=False) if name}


def show_progress(p: Progress) -> None:
    """The command line's progress line (``12,500 rows read (25%)``), redrawn in place."""
    share = f" ({p.fraction:.0%})" if p.fraction is not None else ""
    sys.stderr.write(f"\r  {p.rows:,} rows read{share}")
    sys.stderr.flush()


class CsvReport:
    """A sink writing ``row,field,reason`` lines to a text file."""

    def __init__(self, out: IO[str]) -> None:
        self._writer = CsvWriter(out)
        self._writer.row(REPORT_HEADER)

    def __call__(self, row: int, field: str, reason: str) -> None:
        self._writer.row((row, field, reason))


@dataclass
class Reader(Generic[T]):
    """Turns a source into batches of parsed rows; invalid rows go to the tally.

    ``key`` gives ``(column, key)`` for the value that must not repeat within the file;
    a later repeat is an error of its row. ``skip`` rows (those a previous, interrupted
    run already wrote) are parsed only to remember their keys: not counted, not reported.
    """

    source: Source
    parse: Callable[[int, list[str]], T | Errors]
    key: Callable[[T], tuple[str, str]]
    tally: Tally
    batch_size: int
    skip: int = 0
    seen: SeenKeys = field(default_factory=SeenKeys)

    def _replay(self, number: int, record: list[str]) -> None:
        self.skip -= 1
        parsed = self.parse(number, record)
        if not isinstance(parsed, list):
            self.seen.first_row(self.key(parsed)[1], number)

    def next_batch(self) -> tuple[list[T], bool]:
        """Up to ``batch_size`` rows read: the valid ones, and whether the file ended."""
        batch: list[T] = []
        read = 0
        try:
            for number, record in self.source.rows:
                if not any(cell.strip() for cell in record):
                    continue  # blank lines are not rows
                if self.skip > 0:
                    self._replay(number, record)
                    continue
                self.tally.rows += 1
                read += 1
                parsed = self.parse(number, record)
                if isinstance(parsed, list):
                    self.tally.fail(number, parsed)
                else:
                    column, key = self.key(parsed)
                    if (first := self.seen.first_row(key, number)) is not None:
                        reason = N_("appears earlier in this file (row {row})")
                        self.tally.fail(number, [field_error(column, reason, row=first)])
                    else:
                        batch.append(parsed)
                if read >= self.batch_size:
                    return batch, False
        except SourceError as exc:
            # The rows read so far are still imported; the report says where reading stopped.
            self.tally.fail(exc.row, [field_error("file", exc.reason, code=None, **exc.params)])
            self.tally.complete = False
        return batch, True

    def close(self) -> None:
        """Release the file and the seen-keys store."""
        self.source.close()
        self.seen.close()


async def run_batches(
    reader: Reader[T],
    write: Callable[[list[T], bool], Awaitable[None]],
    progress: Callable[[Progress], None] | None = None,
) -> None:
    """Read batch after batch in a thread and ``write(batch, last)`` each, then close.

    ``write`` is called for every batch, even one without valid rows (its problems and
    the progress may still need storing); it is the unit a crash can lose.
    """
    try:
        done = False
        while not done:
            batch, done = await asyncio.to_thread(reader.next_batch)
            await write(batch, done)
            if progress is not None:
                fraction = 1.0 if done else reader.source.fraction()
                progress(Progress(rows=reader.tally.rows, fraction=fraction))
    finally:
        reader.close()
