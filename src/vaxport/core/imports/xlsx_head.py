"""The first row of an .xlsx workbook's first sheet, read from its XML as a stream.

openpyxl, even read-only, loads the whole shared-strings table before it gives the first
row; a header check needs a handful of texts (issue 12, finding 4). Here expat reads the
sheet until its first row ends and the shared-strings part until the last text that row
names, keeping only that row's texts: memory is the row's, whatever follows it.
Values come out as :func:`readers.cell_text` would show openpyxl's (styles aside: a
header is text). Knows no limits of its own but the ones it is given.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.parsers import expat

_REL_ID = "http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_CHUNK = 1 << 16


class HeadError(ValueError):
    """The first row cannot be read; ``reason`` completes "file: ..."."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _DoneError(Exception):
    """Stops a parse once what was wanted has been read."""


def _local(name: str) -> str:
    return name.rpartition("}")[2]


def _no_doctype(*_args: object) -> None:
    # No DTD, so no entity of any kind is ever expanded.
    raise HeadError("is not an .xlsx workbook (a part declares a DTD)")


def _parse(
    archive: zipfile.ZipFile,
    name: str,
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None] = lambda _name: None,
    text: Callable[[str], None] = lambda _data: None,
) -> None:
    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartElementHandler = lambda n, attrs: start(_local(n), attrs)
    parser.EndElementHandler = lambda n: end(_local(n))
    parser.CharacterDataHandler = text
    parser.StartDoctypeDeclHandler = _no_doctype
    try:
        with archive.open(name) as member:
            while chunk := member.read(_CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except _DoneError:
        return


def _member(archive: zipfile.ZipFile, path: str) -> str | None:
    wanted = path.lstrip("/").lower()
    return next((n for n in archive.namelist() if n.lower() == wanted), None)


def _relations(archive: zipfile.ZipFile, part: str) -> list[dict[str, str]]:
    """The relationships of ``part``, targets resolved to member paths."""
    folder, _, leaf = part.rpartition("/")
    rels = _member(archive, f"{folder}/_rels/{leaf}.rels" if folder else f"_rels/{leaf}.rels")
    found: list[dict[str, str]] = []
    if rels is None:
        return found

    def start(name: str, attrs: dict[str, str]) -> None:
        if name == "Relationship" and "Target" in attrs:
            target = attrs["Target"]
            path = target if target.startswith("/") else posixpath.join(folder, target)
            found.append({**attrs, "Target": posixpath.normpath(path).lstrip("/")})

    _parse(archive, rels, start)
    return found


def _first_sheet(archive: zipfile.ZipFile) -> tuple[str, str | None]:
    """The member of the workbook's first sheet, and of its shared-strings part."""
    office = [r for r in _relations(archive, "") if r.get("Type", "").endswith("/officeDocument")]
    book = _member(archive, office[0]["Target"] if office else "xl/workbook.xml")
    if book is None:
        raise HeadError("is not an .xlsx workbook")
    first: dict[str, str] = {}

    def start(name: str, attrs: dict[str, str]) -> None:
        if name == "sheet":
            first.update(attrs)
            raise _DoneError

    _parse(archive, book, start)
    relations = _relations(archive, book)
    sheet = next((r["Target"] for r in relations if r.get("Id") == first.get(_REL_ID)), None)
    shared = next(
        (r["Target"] for r in relations if r.get("Type", "").endswith("/sharedStrings")),
        "xl/sharedStrings.xml",
    )
    member = sheet and _member(archive, sheet)
    if not member:
        raise HeadError("is not an .xlsx workbook (it has no worksheet)")
    return member, _member(archive, shared)


def _column(ref: str | None, previous: int) -> int:
    if not ref:
        return previous + 1
    number = 0
    for char in ref:
        if not char.isalpha():
            break
        number = number * 26 + (ord(char.upper()) - ord("A") + 1)
    if number == 0:
        raise HeadError("is not an .xlsx workbook (a cell reference has no column)")
    return number


@dataclass
class _Row:
    """What the first row's parse has met so far."""

    max_columns: int
    max_chars: int
    cells: dict[int, tuple[str, str]] = field(default_factory=dict)
    number: int | None = None
    column: int = 0
    kind: str = "n"
    parts: list[str] = field(default_factory=list)
    size: int = 0
    path: list[str] = field(default_factory=list)

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.path.append(name)
        if name == "row" and self.number is None:
            self.number = int(attrs["r"]) if attrs.get("r", "").isdigit() else 1
        elif name == "c":
            self.column = _column(attrs.get("r"), self.column)
            if self.column > self.max_columns:
                raise HeadError(f"has more than {self.max_columns} columns (the column limit)")
            self.kind, self.parts, self.size = attrs.get("t", "n"), [], 0

    def text(self, data: str) -> None:
        inline = "is" in self.path and self.path[-1] == "t" and "rPh" not in self.path
        if self.path and (self.path[-1] == "v" or inline):
            self.size += len(data)
            if self.size > self.max_chars:
                raise HeadError(
                    f"has a header cell longer than {self.max_chars} characters (the cell limit)"
                )
            self.parts.append(data)

    def end(self, name: str) -> None:
        self.path.pop()
        if name == "c":
            self.cells[self.column] = (self.kind, "".join(self.parts))
        elif name in {"row", "sheetData"}:
            raise _DoneError


def _shared_texts(archive: zipfile.ZipFile, member: str | None, wanted: set[int]) -> dict[int, str]:
    """The shared strings numbered ``wanted`` (only those are kept)."""
    found: dict[int, str] = {}
    if not wanted:
        return found
    if member is None:
        raise HeadError("is not an .xlsx workbook (its shared strings are missing)")
    last = max(wanted)
    state = {"index": -1}
    parts: list[str] = []
    path: list[str] = []

    def start(name: str, _attrs: dict[str, str]) -> None:
        path.append(name)
        if name == "si":
            state["index"] += 1
            parts.clear()

    def text(data: str) -> None:
        if state["index"] in wanted and path[-1] == "t" and "rPh" not in path:
            parts.append(data)

    def end(name: str) -> None:
        path.pop()
        if name == "si":
            if state["index"] in wanted:
                found[state["index"]] = "".join(parts)
            if state["index"] >= last:
                raise _DoneError

    _parse(archive, member, start, end, text)
    if len(found) < len(wanted):
        raise HeadError("is not an .xlsx workbook (a cell names a missing shared string)")
    return found


def _number(text: str) -> str:
    try:
        return str(int(text))
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _show(kind: str, text: str, shared: dict[int, str]) -> str:
    if kind == "s":
        return shared[int(text)]
    if kind == "b":
        return "true" if text.strip() == "1" else "false"
    if kind == "n":
        return _number(text.strip()) if text.strip() else ""
    if kind == "d":
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            return text
        return moment.date().isoformat() if moment.time() == dt.time(0, 0) else text
    return text  # inlineStr, str (a formula's text), e (an error such as #N/A)


def first_row(archive: zipfile.ZipFile, *, max_columns: int, max_chars: int) -> list[str] | None:
    """The first row's cells as text, padded from column A; [] when the sheet's first row
    is empty (its first ``<row>`` comes later); None when the sheet has no row at all.

    HeadError past ``max_columns`` or a cell over ``max_chars``, or on a broken workbook.
    """
    sheet, shared_member = _first_sheet(archive)
    row = _Row(max_columns=max_columns, max_chars=max_chars)
    _parse(archive, sheet, row.start, row.end, row.text)
    if row.number is None:
        return None
    if row.number != 1:
        return []
    try:
        wanted = {int(text) for kind, text in row.cells.values() if kind == "s"}
    except ValueError as exc:
        raise HeadError("is not an .xlsx workbook (a shared-string cell holds no number)") from exc
    shared = _shared_texts(archive, shared_member, wanted)
    width = max(row.cells, default=0)
    cells = [("n", "")] * width
    for column, cell in row.cells.items():
        cells[column - 1] = cell
    return [_show(kind, text, shared) for kind, text in cells]
