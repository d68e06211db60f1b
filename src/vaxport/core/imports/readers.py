"""Streaming readers of import files: CSV (UTF-8) and XLSX (first sheet).

Neither ever holds the whole file: CSV goes through the ``csv`` module over the file
read and decoded line by line (each line capped, so a file without newlines cannot fill
memory); XLSX through openpyxl's read-only mode, which parses the sheet as a stream (its
shared-strings table, one copy of each distinct text, is the only part it keeps).
Rows come out as ``(row number, [cell text, ...])``, numbered as a spreadsheet shows
them: the header is row 1. Knows no domain: each context maps the cells itself.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from vaxport.core.errors import ValidationFailed, field_error

Kind = Literal["csv", "xlsx"]
MAX_LINE_BYTES = 65_536
MAX_COLUMNS = 200
# A zip that inflates beyond this is refused before parsing (a "zip bomb").
MAX_XLSX_INFLATED_BYTES = 1 << 30
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class SourceError(Exception):
    """The file cannot be read on from ``row``; rows before it were read normally."""

    def __init__(self, row: int, reason: str) -> None:
        super().__init__(f"row {row}: {reason}")
        self.row = row
        self.reason = reason


def refused(reason: str) -> ValidationFailed:
    """The whole file is refused before any row is imported."""
    return ValidationFailed(f"file: {reason}", errors=[field_error("file", reason)])


def kind_of(name: str) -> Kind:
    """The format a file name announces (``.csv`` or ``.xlsx``)."""
    lower = name.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith(".xlsx"):
        return "xlsx"
    raise refused("must be a .csv (UTF-8) or .xlsx file")


@dataclass
class Source:
    """An open file: its header, its data rows (lazily) and how far reading has got."""

    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
    _fraction: Any = field(repr=False)
    _close: Any = field(repr=False)

    def fraction(self) -> float | None:
        """How much of the file has been read, 0..1, when it can tell."""
        value = self._fraction()
        return None if value is None else min(1.0, float(value))

    def close(self) -> None:
        """Release the file."""
        self._close()


def _lines(raw: IO[bytes]) -> Iterator[str]:
    # Decoded line by line (not by the 8 KiB chunk a TextIOWrapper takes), so text that
    # is not UTF-8 is reported on its own row and every row before it still imports.
    first = True
    while True:
        line = raw.readline(MAX_LINE_BYTES)
        if not line:
            return
        if len(line) == MAX_LINE_BYTES and not line.endswith(b"\n"):
            raise ValueError(f"a line is longer than {MAX_LINE_BYTES} bytes")
        if first:
            line, first = line.removeprefix(codecs.BOM_UTF8), False
        yield line.decode("utf-8")


def _csv_rows(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    number = 1
    while True:
        number += 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            raise SourceError(number, "is not UTF-8 text; save the file as CSV UTF-8") from exc
        except (csv.Error, ValueError) as exc:
            raise SourceError(number, f"cannot be read as CSV ({exc})") from exc
        yield number, record


def open_csv(path: Path) -> Source:
    """A CSV file (UTF-8, with or without the BOM spreadsheet programs write)."""
    raw = path.open("rb")
    size = max(1, path.stat().st_size)
    reader = csv.reader(_lines(raw))
    try:
        header = next(reader)
    except StopIteration:
        raw.close()
        raise refused("is empty; the first row must name the columns") from None
    except (UnicodeDecodeError, csv.Error, ValueError) as exc:
        raw.close()
        raise refused("is not a UTF-8 CSV file with a header row") from exc
    return Source(
        header=header,
        rows=_csv_rows(reader),
        _fraction=lambda: raw.tell() / size if not raw.closed else 1.0,
        _close=raw.close,
    )


def cell_text(value: Any) -> str:  # noqa: PLR0911 - one return per cell type
    """A spreadsheet cell as the text a CSV would have held."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return str(value)


def _check_zip(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise refused("is not an .xlsx workbook") from exc
    if inflated > MAX_XLSX_INFLATED_BYTES:
        raise refused("unpacks to more than 1 GiB; split it or export it as CSV")


def open_xlsx(path: Path) -> Source:
    """The first worksheet of an .xlsx workbook, read as a stream."""
    import openpyxl

    _check_zip(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a bad file
        raise refused("is not an .xlsx workbook openpyxl can read") from exc
    sheet = book.worksheets[0]
    values = sheet.iter_rows(values_only=True)
    try:
        header = [cell_text(v) for v in next(values)]
    except StopIteration:
        book.close()
        raise refused("is empty; the first row must name the columns") from None
    total = sheet.max_row if isinstance(sheet.max_row, int) and sheet.max_row > 0 else None
    state = {"row": 1}

    def rows() -> Iterator[tuple[int, list[str]]]:
        for number, record in enumerate(values, start=2):
            state["row"] = number
            yield number, [cell_text(v) for v in record]

    return Source(
        header=header,
        rows=rows(),
        _fraction=lambda: state["row"] / total if total else None,
        _close=book.close,
    )


def open_source(path: Path, kind: Kind) -> Source:
    """Open ``path`` as ``kind``; ValidationFailed on ``file`` when it cannot be."""
    source = open_csv(path) if kind == "csv" else open_xlsx(path)
    if len(source.header) > MAX_COLUMNS:
        source.close()
        raise refused(f"has more than {MAX_COLUMNS} columns")
    return source
