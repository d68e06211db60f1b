"""Bulk import: row-by-row checks with an error report, idempotent re-runs, XLSX, upload."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from tests.facilities.conftest import Admin
from tests.facilities.helpers import counts, events
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.errors import ValidationFailed
from vaxport.core.imports.readers import XLSX_MEDIA_TYPE
from vaxport.facilities import service
from vaxport.facilities.importer import BATCH_SIZE, Progress, import_file
from vaxport.facilities.schemas import AdminListQuery, ImportSummary
from vaxport.tenancy.schemas import TenantInfo

HEADER = [
    "code", "name", "name_fr", "type", "region_code", "address", "postal_code", "latitude",
    "longitude", "phone", "email", "vaccines", "hours_mon", "hours_sat", "exceptions",
    "accessibility", "daily_capacity", "stations", "active",
]  # fmt: skip


def row(code: str, **cells: str) -> dict[str, str]:
    """A valid row, with ``cells`` changed."""
    base = {
        "code": code,
        "name": f"Centre {code}",
        "name_fr": f"Centre {code} (fr)",
        "type": "public",
        "region_code": "NOR-01-01",
        "address": "1 Main Street",
        "postal_code": "D1A 1AA",
        "latitude": "48.4",
        "longitude": "-79.6",
        "phone": "+1 613 555 0100",
        "email": "centre@demoland.example",
        "vaccines": "mmr; hpv",
        "hours_mon": "08:00-12:00, 13:00-17:00",
        "hours_sat": "",
        "exceptions": "2026-12-25 closed; 2026-12-31 08:00-12:00",
        "accessibility": "",
        "daily_capacity": "200",
        "stations": "3",
        "active": "true",
    }
    base.update(cells)
    return base


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


async def run_import(
    db: Database, cache: Cache, tenant: TenantInfo, path: Path, **kwargs: Any
) -> tuple[ImportSummary, list[dict[str, str]]]:
    report = io.StringIO()
    summary = await import_file(
        db=db,
        cache=cache,
        tenant=tenant,
        path=path,
        kind="xlsx" if path.suffix == ".xlsx" else "csv",
        report=report,
        **kwargs,
    )
    return summary, list(csv.DictReader(io.StringIO(report.getvalue())))


MIXED = [
    row("OK-1"),
    row("BAD-REGION", region_code="NOR-99"),
    row("BAD-COORDS", latitude="95", longitude="abc"),
    row("BAD-PRODUCT", vaccines="mmr; yellow-fever"),
    row("OK-1", name="A second OK-1"),
    row("BAD-HOURS", hours_mon="08:00-12:00, 11:00-13:00", hours_sat="14:00-09:00"),
    row("OK-2", type="MOBILE", latitude="", longitude="", name_fr=""),
    row("BAD-MANY", type="hospital", phone="12345", active="maybe"),
]


async def test_a_mixed_file_imports_its_good_rows_and_reports_each_bad_one(
    clean_db: Database, cache: Cache, tenant: TenantInfo, tmp_path: Path
) -> None:
    summary, report = await run_import(
        clean_db, cache, tenant, write_csv(tmp_path / "mixed.csv", MIXED)
    )
    assert (summary.rows, summary.created, summary.invalid) == (8, 2, 6)
    assert summary.complete
    assert [(r["row"], r["field"], r["reason"]) for r in report] == [
        ("3", "region_code", "unknown region"),
        ("4", "latitude", "must be between -90 and 90"),
        ("4", "longitude", "is not a number"),
        ("5", "vaccines", "unknown vaccine product (yellow-fever)"),
        ("6", "code", "appears earlier in this file (row 2)"),
        ("7", "hours_mon", "11:00-13:00 overlaps 08:00-12:00"),
        ("7", "hours_sat", "closes at 09:00, not after it opens (14:00)"),
        ("9", "type", "Input should be 'public', 'private', 'mobile' or 'outreach'"),
        ("9", "phone", "is not a valid phone number"),
        ("9", "active", "must be true or false"),
    ]
    assert summary.error_count == len(report)
    stored = await service.list_facilities(db=clean_db, tenant=tenant, query=AdminListQuery())
    assert [f.code for f in stored.items] == ["OK-1", "OK-2"]
    ok1, ok2 = stored.items
    assert ok1.name == {"en": "Centre OK-1", "fr": "Centre OK-1 (fr)"}
    assert ok1.vaccines == ["hpv", "mmr"]
    assert ok1.opening_hours["exceptions"][1] == {
        "date": "2026-12-31",
        "hours": [{"opens": "08:00", "closes": "12:00"}],
        "note": None,
    }
    assert (ok2.type, ok2.location, ok2.name) == ("mobile", None, {"en": "Centre OK-2"})
    assert [t for t, _ in await events(clean_db, tenant.id)] == ["facility.created"] * 2


async def test_running_the_same_file_again_changes_nothing(
    clean_db: Database, cache: Cache, tenant: TenantInfo, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "f.csv", [row(f"C-{i}") for i in range(12)])
    first, _ = await run_import(clean_db, cache, tenant, path)
    before = await counts(clean_db, tenant.id)
    versions = {
        f.code: (f.version, f.updated_at)
        for f in (
            await service.list_facilities(db=clean_db, tenant=tenant, query=AdminListQuery())
        ).items
    }
    again, report = await run_import(clean_db, cache, tenant, path)
    assert (first.created, again.created, again.updated, again.unchanged) == (12, 0, 0, 12)
    assert report == []
    assert await counts(clean_db, tenant.id) == before  # no event, no audit entry
    after = await service.list_facilities(db=clean_db, tenant=tenant, query=AdminListQuery())
    assert {f.code: (f.version, f.updated_at) for f in after.items} == versions


async def test_a_changed_row_updates_and_an_inactive_one_deactivates(
    clean_db: Database, cache: Cache, tenant: TenantInfo, tmp_path: Path
) -> None:
    await run_import(clean_db, cache, tenant, write_csv(tmp_path / "a.csv", [row("X"), row("Y")]))
    changed = [row("X", stations="9", vaccines="covid-mrna"), row("Y", active="false")]
    summary, _ = await run_import(clean_db, cache, tenant, write_csv(tmp_path / "b.csv", changed))
    assert (summary.updated, summary.unchanged) == (2, 0)
    x = await service.get_by_code(db=clean_db, tenant=tenant, code="x")
    y = await service.get_by_code(db=clean_db, tenant=tenant, code="Y")
    assert (x.stations, x.vaccines, x.version) == (9, ["covid-mrna"], 2)
    assert not y.active
    assert [t for t, _ in await events(clean_db, tenant.id)][2:] == [
        "facility.changed",
        "facility.deactivated",
    ]
    # X now offers one vaccine; Y, deactivated, keeps its two.
    assert (await counts(clean_db, tenant.id))["vaccines"] == 3


async def test_many_batches_and_progress_reports(
    clean_db: Database, cache: Cache, tenant: TenantInfo, tmp_path: Path
) -> None:
    rows = [row(f"B-{i:04d}") for i in range(BATCH_SIZE * 2 + 7)]
    seen: list[Progress] = []
    summary, _ = await run_import(
        clean_db, cache, tenant, write_csv(tmp_path / "big.csv", rows), progress=seen.append
    )
    assert summary.created == len(rows)
    assert [p.rows for p in seen] == [BATCH_SIZE, BATCH_SIZE * 2, len(rows)]
    assert seen[-1].fraction == 1.0
    assert all(p.fraction is not None and 0 < p.fraction <= 1 for p in seen)


async def test_an_xlsx_workbook_imports_like_its_csv(
    clean_db: Database, cache: Cache, tenant: TenantInfo, tmp_path: Path
) -> None:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADER)
    for r in MIXED:
        cells: list[Any] = [r[c] for c in HEADER]
        if r["code"] == "OK-1":  # spreadsheet types: numbers and a boolean
            cells[HEADER.index("latitude")] = 48.4
            cells[HEADER.index("longitude")] = -79.6
            cells[HEADER.index("stations")] = 3
            cells[HEADER.index("active")] = True
        sheet.append(cells)
    path = tmp_path / "mixed.xlsx"
    book.save(path)
    summary, report = await run_import(clean_db, cache, tenant, path)
    csv_summary, csv_report = await run_import(
        clean_db, cache, tenant, write_csv(tmp_path / "mixed.csv", MIXED)
    )
    assert (summary.created, summary.invalid) == (2, 6)
    assert report == csv_report
    assert (csv_summary.created, csv_summary.unchanged) == (0, 2)  # same values, either way


@pytest.mark.parametrize(
    ("header", "problems"),
    [
        ([*HEADER, "colour"], [("colour", "is not a column of the import format")]),
        (["code", "name", "type"], [("region_code", "is a required column")]),
        ([*HEADER, "Code"], [("Code", "appears more than once")]),
        ([*HEADER, "name_de"], [("name_de", "is not a column of the import format")]),
    ],
)
async def test_a_file_with_wrong_columns_is_refused_whole(
    clean_db: Database,
    cache: Cache,
    tenant: TenantInfo,
    tmp_path: Path,
    header: list[str],
    problems: list[tuple[str, str]],
) -> None:
    rows = [{k: v for k, v in row("Z").items() if k in header}]
    with pytest.raises(ValidationFailed) as caught:
        await run_import(clean_db, cache, tenant, write_csv(tmp_path / "h.csv", rows, header))
    assert [(e["field"], e["reason"]) for e in caught.value.errors] == problems
    assert (await counts(clean_db, tenant.id))["facilities"] == 0


async def test_a_file_that_stops_being_utf8_keeps_the_rows_before(
    clean_db: Database, cache: Cache, tenant: TenantInfo, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "latin1.csv", [row("U-1"), row("U-2")])
    with path.open("ab") as fh:
        fh.write("U-3,Caf\u00e9,,public,NOR-01-01\r\n".encode("latin-1"))
    summary, report = await run_import(clean_db, cache, tenant, path)
    assert summary.created == 2
    assert not summary.complete
    assert report[-1]["field"] == "file"
    assert "not UTF-8" in report[-1]["reason"]


async def test_blank_lines_are_skipped_and_extra_cells_are_an_error(
    clean_db: Database, cache: Cache, tenant: TenantInfo, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "b.csv", [row("K-1")])
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\r\n,,,\r\n" + ",".join(row("K-2").values()) + ",extra\r\n")
    summary, report = await run_import(clean_db, cache, tenant, path)
    assert (summary.rows, summary.created) == (2, 1)
    assert [(r["row"], r["field"]) for r in report] == [("5", "row")]


async def test_a_regional_admin_imports_only_inside_their_region(
    clean_db: Database, cache: Cache, tenant: TenantInfo, tmp_path: Path
) -> None:
    await run_import(
        clean_db,
        cache,
        tenant,
        write_csv(tmp_path / "n.csv", [row("S-0", region_code="SOU-01-01")]),
    )
    rows = [row("N-1"), row("S-1", region_code="SOU-01-01"), row("S-0", region_code="NOR-01-02")]
    summary, report = await run_import(
        clean_db, cache, tenant, write_csv(tmp_path / "r.csv", rows), within_region="NOR"
    )
    assert summary.created == 1
    assert [(r["row"], r["field"], r["reason"]) for r in report] == [
        ("3", "region_code", "is outside your region (NOR)"),
        ("4", "code", "belongs to a facility outside your region"),
    ]
    s0 = await service.get_by_code(db=clean_db, tenant=tenant, code="S-0")
    assert s0.region_code == "SOU-01-01"


async def test_the_upload_endpoint_answers_a_summary_or_the_report(
    client: httpx.AsyncClient, admin: Admin, tenant: TenantInfo, tmp_path: Path
) -> None:
    data = write_csv(tmp_path / "u.csv", MIXED).read_bytes()
    url = f"/api/v1/{tenant.code}/facilities/import"
    r = await client.post(url, content=data, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    summary = r.json()
    assert (summary["created"], summary["invalid"], summary["error_count"]) == (2, 6, 10)
    assert summary["errors"][0] == {"row": 3, "field": "region_code", "reason": "unknown region"}
    r = await client.post(
        url, content=data, headers={"Content-Type": "text/csv", "Accept": "text/csv"}
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert lines[0] == "row,field,reason"
    assert len(lines) == 11
    assert admin.asked == ["facilities:write", "facilities:write"]


async def test_the_upload_endpoint_refuses_other_media_and_oversized_bodies(
    client: httpx.AsyncClient, admin: Admin, tenant: TenantInfo
) -> None:
    url = f"/api/v1/{tenant.code}/facilities/import"
    r = await client.post(url, content=b"{}", headers={"Content-Type": "application/json"})
    assert r.status_code == 415
    # Uploads have their own ceiling, above the JSON one (1 MiB) ...
    line = b"X,Y,public,NOR-01-01," + b"a" * 480 + b"\r\n"
    big = b"code,name,type,region_code,address\r\n" + line * 2500
    assert len(big) > 1_048_576
    r = await client.post(url, content=big, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["invalid"]) == (1, 2499)  # one code, many times
    r = await client.post(url, content=b"not a zip", headers={"Content-Type": XLSX_MEDIA_TYPE})
    assert r.status_code == 422
    assert [(e["field"], e["reason"]) for e in r.json()["errors"]] == [
        ("file", "is not an .xlsx workbook")
    ]


async def test_an_upload_beyond_its_ceiling_is_413(
    settings: Any, clean_db: Database, cache: Cache, tenant: TenantInfo
) -> None:
    from vaxport.app import create_app

    app = create_app(
        settings.model_copy(update={"upload_max_bytes": 4096}), database=clean_db, cache=cache
    )
    app.state.permission_check = Admin(tenant)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.post(
            f"/api/v1/{tenant.code}/facilities/import",
            content=b"x" * 5000,
            headers={"Content-Type": "text/csv"},
        )
    assert r.status_code == 413
    assert r.json()["limit_bytes"] == 4096
    assert (await counts(clean_db, tenant.id))["facilities"] == 0


def test_workbooks_are_parsed_with_defusedxml() -> None:
    import openpyxl.xml

    # Uploaded .xlsx files are XML: openpyxl must use defusedxml (a declared dependency).
    assert openpyxl.xml.DEFUSEDXML


async def test_an_uploaded_workbook_imports(
    client: httpx.AsyncClient, admin: Admin, tenant: TenantInfo, tmp_path: Path
) -> None:
    # The spooled upload keeps the .xlsx suffix: openpyxl refuses files without it.
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADER)
    for r in MIXED:
        sheet.append([r[c] for c in HEADER])
    path = tmp_path / "mixed.xlsx"
    book.save(path)
    r = await client.post(
        f"/api/v1/{tenant.code}/facilities/import",
        content=path.read_bytes(),
        headers={"Content-Type": XLSX_MEDIA_TYPE},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["invalid"]) == (2, 6)
