"""Streaming readers of import files: CSV (UTF-8) and XLSX (first sheet).

Neither ever holds the whole file: CSV goes through the ``csv`` module over the file
read and decoded line by line (each line capped, so a file without newlines cannot fill
memory); XLSX through openpyxl's read-only mode, which parses the sheet as a stream (its
shared-strings table, one copy of each distinct text, is the only part it keeps).

Every limit below bounds memory or time whatever the file claims, and is checked while
streaming (issue 12: a 300 KiB workbook of 7 million shared strings took the API from
171 MiB to 1.3 GiB): before openpyxl opens a workbook, each zip member's inflated size
and compression ratio and the shared-strings count (counted by a streaming parse that
keeps nothing); while rows are read, their number and width. A file over a limit is
refused with a 422 naming the limit.
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
from xml.parsers import expat

from vaxport.core.errors import ValidationFailed, field_error
from vaxport.core.i18n import N_, Param
from vaxport.core.imports.xlsx_head import HeadError, first_row

Kind = Literal["csv", "xlsx"]
MAX_LINE_BYTES = 65_536
MAX_COLUMNS = 200
MAX_ROWS = 1_000_000
# A zip that inflates beyond this is refused before parsing (a "zip bomb").
MAX_XLSX_INFLATED_BYTES = 1 << 30
# One member inflating more than this many times its packed size (beyond a first MiB,
# where small XML legitimately packs tightly) is a bomb, not a spreadsheet.
MAX_INFLATION_RATIO = 100
_RATIO_FREE_BYTES = 1 << 20
# Distinct texts openpyxl keeps in memory (~100 bytes each), and the XML holding them.
MAX_SHARED_STRINGS = 200_000
MAX_SHARED_STRINGS_BYTES = 64 << 20
# A header cell longer than a spreadsheet cell can be (Excel's 32,767) is no column name.
MAX_HEADER_CELL_CHARS = 32_767
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class SourceError(Exception):
    """The file cannot be read on from ``row``; rows before it were read normally."""

    def __init__(self, row: int, reason: str, **params: Param) -> None:
        super().__init__(f"row {row}: {reason.format(**params)}")
        self.row = row
        self.reason = reason  # a message id, its ``{name}``s filled from ``params``
        self.params = params


def refused(reason: str, **params: Param) -> ValidationFailed:
    """The whole file is refused before any row is imported (``reason`` a message id)."""
    error = field_error("file", reason, code=None, **params)
    return ValidationFailed(f"file: {error['reason']}", errors=[error])


def kind_of(name: str) -> Kind:
    """The format a file name announces (``.csv`` or ``.xlsx``)."""
    lower = name.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith(".xlsx"):
        return "xlsx"
    raise refused(N_("must be a .csv (UTF-8) or .xlsx file"))


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
            raise ValueError(f"line is longer than {MAX_LINE_BYTES} bytes (the line limit)")
        if first:
            line, first = line.removeprefix(codecs.BOM_UTF8), False
        yield line.decode("utf-8")


def _check_row(number: int, width: int) -> None:
    if number > MAX_ROWS:
        raise SourceError(
            number,
            N_("is past the limit of {maximum} rows; split the file; reading stopped here"),
            maximum=MAX_ROWS,
        )
    if width > MAX_COLUMNS:
        raise SourceError(
            number,
            N_("has more than {maximum} columns (the column limit); reading stopped here"),
            maximum=MAX_COLUMNS,
        )


def _csv_rows(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    number = 1
    while True:
        number += 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            raise SourceError(
                number, N_("is not UTF-8 text; save the file as CSV UTF-8; reading stopped here")
            ) from exc
        except (csv.Error, ValueError) as exc:
            raise SourceError(
                number, N_("cannot be read as CSV ({error}); reading stopped here"), error=str(exc)
            ) from exc
        _check_row(number, len(record))
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
        raise refused(N_("is empty; the first row must name the columns")) from None
    except ValueError as exc:  # a line over the limit (UnicodeDecodeError is one too)
        raw.close()
        if isinstance(exc, UnicodeDecodeError):
            raise refused(N_("is not a UTF-8 CSV file with a header row")) from exc
        raise refused(N_("its header {error}"), error=str(exc)) from exc
    except csv.Error as exc:
        raw.close()
        raise refused(N_("is not a UTF-8 CSV file with a header row")) from exc
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
            infos = archive.infolist()
            inflated = sum(info.file_size for info in infos)
            if inflated > MAX_XLSX_INFLATED_BYTES:
                raise refused(N_("unpacks to more than 1 GiB; split it or export it as CSV"))
            for info in infos:
                if info.file_size > _RATIO_FREE_BYTES and (
                    info.file_size > MAX_INFLATION_RATIO * max(1, info.compress_size)
                ):
                    raise refused(
                        N_(
                            "a part inflates more than {ratio} times its packed size (the "
                            "inflation limit); export it as CSV"
                        ),
                        ratio=MAX_INFLATION_RATIO,
                    )
            shared = [i for i in infos if i.filename.lower() == "xl/sharedstrings.xml"]
            if shared:
                _check_shared_strings(archive, shared[0])
    except (
        zipfile.BadZipFile,
        OSError,
        expat.ExpatError,
        EOFError,
    ) as exc:
        raise refused(N_("is not an .xlsx workbook")) from exc


def _check_shared_strings(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    # The declared count can lie: count the <si> elements, streaming, keeping none.
    if info.file_size > MAX_SHARED_STRINGS_BYTES:
        raise refused(
            N_(
                "its shared-strings part is over {mib} MiB (the shared-strings limit); "
                "export it as CSV"
            ),
            mib=MAX_SHARED_STRINGS_BYTES >> 20,
        )
    count = 0

    def start(name: str, _attrs: object) -> None:
        nonlocal count
        if name.rpartition("}")[2] == "si":
            count += 1
            if count > MAX_SHARED_STRINGS:
                raise refused(
                    N_(
                        "has more than {maximum} distinct texts (the shared-strings limit); "
                        "split it or export it as CSV"
                    ),
                    maximum=MAX_SHARED_STRINGS,
                )

    def no_doctype(*_args: object) -> None:
        raise refused(N_("is not an .xlsx workbook (a shared-strings part declares a DTD)"))

    # expat without a tree (an ElementTree parse took seconds per 200,000 texts); no
    # DTD, so no entity of any kind is expanded.
    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = no_doctype
    with archive.open(info) as member:
        while chunk := member.read(1 << 16):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)


def _xlsx_header(path: Path) -> list[str]:
    _check_zip(path)
    try:
        with zipfile.ZipFile(path) as archive:
            header = first_row(archive, max_columns=MAX_COLUMNS, max_chars=MAX_HEADER_CELL_CHARS)
    except HeadError as exc:
        raise refused(exc.reason) from exc
    except (zipfile.BadZipFile, OSError, expat.ExpatError, EOFError, KeyError) as exc:
        raise refused(N_("is not an .xlsx workbook")) from exc
    if header is None:
        raise refused(N_("is empty; the first row must name the columns"))
    return header


def read_header(path: Path, kind: Kind) -> list[str]:
    """The first row of ``path`` alone: what an upload's header check needs.

    The workbook limits (inflation, shared strings, counted streaming) are checked as for
    reading it whole; then only the first row is parsed, and of the shared strings only
    the ones it names are kept: memory and time do not grow with the rows below it.
    """
    if kind == "csv":
        source = open_csv(path)
        source.close()
        header = source.header
    else:
        header = _xlsx_header(path)
    if len(header) > MAX_COLUMNS:
        raise refused(N_("has more than {maximum} columns (the column limit)"), maximum=MAX_COLUMNS)
    return header


def open_xlsx(path: Path) -> Source:
    """The first worksheet of an .xlsx workbook, read as a stream (its header by
    :func:`read_header`'s reader, so an upload's check and its import agree)."""
    import openpyxl

    header = _xlsx_header(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a bad file
        raise refused(N_("is not an .xlsx workbook openpyxl can read")) from exc
    sheet = book.worksheets[0]
    total = sheet.max_row if isinstance(sheet.max_row, int) and sheet.max_row > 0 else None
    width = sheet.max_column if isinstance(sheet.max_column, int) else 0
    if width > MAX_COLUMNS or (total or 0) > MAX_ROWS:
        # Declared dimensions openpyxl would pad every row to (up to 16,384 columns):
        # forgotten, so rows hold only their own cells, counted as they come.
        sheet.reset_dimensions()
        total = None
    values = sheet.iter_rows(min_row=2, values_only=True)
    state = {"row": 1}

    def rows() -> Iterator[tuple[int, list[str]]]:
        for number, record in enumerate(values, start=2):
            state["row"] = number
            _check_row(number, len(record))
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
        raise refused(N_("has more than {maximum} columns (the column limit)"), maximum=MAX_COLUMNS)
    return source
