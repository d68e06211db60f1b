"""Hostile import files are refused quickly, in bounded memory (issue 12, finding 4).

A 300 KiB workbook of 7 million shared strings took the API from 171 MiB to 1.3 GiB
and 138 s. The readers' limits (core/imports/readers.py) are checked while streaming;
here each hostile file is read directly under tracemalloc, then sent to every route that
accepts an upload (found from the app: a request body declared with file media types),
which must answer 422 problem+json naming the limit.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.security.world import World
from tests.support.workbooks import NS, huge_body, xlsx
from vaxport.core.errors import ValidationFailed
from vaxport.core.http.dependencies import iter_routes
from vaxport.core.imports import readers
from vaxport.core.imports.readers import XLSX_MEDIA_TYPE, SourceError, open_source


def many_shared_strings() -> bytes:
    count = readers.MAX_SHARED_STRINGS + 1
    texts = b"".join(b"<si><t>%d</t></si>" % i for i in range(count))
    shared = b"<sst " + NS.encode() + b">" + texts + b"</sst>"
    sheet = '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'
    return xlsx(sheet, {"xl/sharedStrings.xml": shared}, stored=True)


def zip_bomb_member() -> bytes:
    return xlsx(
        '<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row>',
        {"xl/media/pad.bin": b"\0" * (32 << 20)},
    )


def huge_dimensions() -> bytes:
    sheet = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c>'
        '<c r="XFD1" t="inlineStr"><is><t>b</t></is></c></row>'
    )
    return xlsx(sheet).replace(b"<sheetData>", b'<dimension ref="A1:XFD1048576"/><sheetData>')


def wide_csv_row() -> bytes:
    return b",".join([b"x"] * (readers.MAX_COLUMNS + 50)) + b"\n"


def long_csv_line() -> bytes:
    return b"a" * (10 << 20) + b"\n"


HOSTILE: dict[str, tuple[Callable[[], bytes], str]] = {
    "many shared strings": (many_shared_strings, "xlsx"),
    "zip bomb member": (zip_bomb_member, "xlsx"),
    "huge dimensions": (huge_dimensions, "xlsx"),
    "very wide row": (wide_csv_row, "csv"),
    "10 MB line": (long_csv_line, "csv"),
}
MEDIA = {"xlsx": XLSX_MEDIA_TYPE, "csv": "text/csv"}


def _read_all(path: Path, kind: Any) -> None:
    source = open_source(path, kind)
    try:
        for _ in source.rows:
            pass
    finally:
        source.close()


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_reading_a_hostile_file_is_refused_quickly_in_bounded_memory(
    name: str, tmp_path: Path
) -> None:
    make, kind = HOSTILE[name]
    path = tmp_path / f"hostile.{kind}"
    path.write_bytes(make())
    started = time.perf_counter()
    with pytest.raises((ValidationFailed, SourceError)) as refusal:
        _read_all(path, kind)
    assert time.perf_counter() - started < 10
    tracemalloc.start()  # slows every allocation down: measured apart from the time
    try:
        with pytest.raises((ValidationFailed, SourceError)):
            _read_all(path, kind)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100 << 20, f"{name}: peak {peak >> 20} MiB"
    assert "limit" in str(refusal.value)


def upload_routes(app: Any) -> list[tuple[str, str]]:
    """``(method, path)`` of every route whose declared body is a spreadsheet file.

    Routes taking other files (photos at ``/api/v1/verify``) refuse these with 415 and
    are walked with hostile images in ``tests/certificates``.
    """
    found = []
    for path, route, _deps in iter_routes(app.routes):
        extra = getattr(route, "openapi_extra", None) or {}
        content = extra.get("requestBody", {}).get("content", {})
        if any(m in MEDIA.values() for m in content):
            found.extend((m, path) for m in sorted(getattr(route, "methods", ()) or ()))
    return found


async def test_every_upload_route_refuses_hostile_files(app: Any, world: World) -> None:
    routes = upload_routes(app)
    assert len(routes) >= 2, "the walk found too few upload routes"
    failures = []
    for method, path in routes:
        url = path.format(tenant=world.tenant.code)
        for name, (make, kind) in HOSTILE.items():
            headers = {**world.admin_auth, "content-type": MEDIA[kind]}
            started = time.perf_counter()
            resp = await world.client.request(method, url, headers=headers, content=make())
            took = time.perf_counter() - started
            problem = "problem+json" in resp.headers.get("content-type", "")
            if resp.status_code != 422 or not problem or "limit" not in resp.text:
                failures.append(f"{method} {path} [{name}]: {resp.status_code} {resp.text[:200]}")
            elif took > 10:
                failures.append(f"{method} {path} [{name}]: took {took:.1f} s")
    assert not failures, "\n".join(failures)


def test_a_header_check_reads_the_first_row_alone_in_bounded_memory(tmp_path: Path) -> None:
    header = ["given_name", "family_name", "birth_date", "id_number"]
    path = tmp_path / "big.xlsx"
    path.write_bytes(huge_body(header))
    assert readers.read_header(path, "xlsx") == header
    tracemalloc.start()
    try:
        assert readers.read_header(path, "xlsx") == header
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A whole-workbook parse holds the 150,000 texts (14 MiB); the first row is tiny.
    assert peak < 1 << 20, f"peak {peak >> 10} KiB"
    assert open_source(path, "xlsx").header == header  # the import reads the same header


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_header_check_refuses_hostile_files_naming_the_limit(name: str, tmp_path: Path) -> None:
    make, kind = HOSTILE[name]
    path = tmp_path / f"hostile.{kind}"
    path.write_bytes(make())
    with pytest.raises(ValidationFailed) as refusal:
        readers.read_header(path, kind)
    assert "limit" in str(refusal.value)
