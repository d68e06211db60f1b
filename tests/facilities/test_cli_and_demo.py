"""``vaxport facility ...`` and the demo country's generated centres."""

from __future__ import annotations

import csv
import importlib.util
import io
from pathlib import Path

from typer.testing import CliRunner

from tests.conftest import ROOT
from tests.facilities.test_import import row, write_csv
from tests.support.parts import PARTS
from vaxport.cli import app
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.facilities.importer import import_file
from vaxport.tenancy.schemas import TenantInfo

DEMO_CSV = ROOT / "countries" / "demo-facilities.csv"


def test_import_reports_counts_and_writes_the_error_report(cli: CliRunner, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "centres.csv", [row("C-1"), row("C-2", region_code="NOPE")])
    result = cli.invoke(app, ["facility", "import", str(path), "--tenant", "demo"])
    assert result.exit_code == 1  # some rows were refused
    assert "2 rows: 1 created, 0 updated, 0 unchanged, 1 invalid" in result.stdout
    assert "rows read (100%)" in result.stderr
    report = tmp_path / "centres.errors.csv"
    assert f"1 problems listed in {report}" in result.stdout
    assert report.read_text().splitlines() == ["row,field,reason", "3,region_code,unknown region"]

    good = write_csv(tmp_path / "good.csv", [row("C-1")])
    again = cli.invoke(app, ["facility", "import", str(good), "-t", "demo", "-q"])
    assert again.exit_code == 0, again.output
    assert "1 rows: 0 created, 0 updated, 1 unchanged, 0 invalid" in again.stdout
    assert not (tmp_path / "good.errors.csv").exists()


def test_import_refuses_unknown_tenants_and_formats(cli: CliRunner, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", [row("C-1")])
    r = cli.invoke(app, ["facility", "import", str(path), "--tenant", "nowhere"])
    assert r.exit_code == 1
    assert "unknown tenant" in r.stderr
    odd = tmp_path / "c.ods"
    odd.write_bytes(b"x")
    r = cli.invoke(app, ["facility", "import", str(odd), "--tenant", "demo"])
    assert r.exit_code == 1
    assert "file: must be a .csv (UTF-8) or .xlsx file" in r.stderr


def test_show_deactivate_and_reactivate_by_code(cli: CliRunner, tmp_path: Path) -> None:
    cli.invoke(
        app, ["facility", "import", str(write_csv(tmp_path / "c.csv", [row("C-1")])), "-t", "demo"]
    )
    shown = cli.invoke(app, ["facility", "show", "c-1", "-t", "demo"])
    assert shown.exit_code == 0, shown.output
    assert '"code": "C-1"' in shown.stdout
    off = cli.invoke(app, ["facility", "deactivate", "C-1", "-t", "demo"])
    assert off.exit_code == 0, off.output
    assert "\tv2\tdeactivated " in off.stdout
    outside = cli.invoke(
        app, ["facility", "reactivate", "C-1", "-t", "demo", "--within-region", "SOU"]
    )
    assert outside.exit_code == 1
    assert "no such facility" in outside.stderr  # outside the region: not there
    on = cli.invoke(app, ["facility", "reactivate", "C-1", "-t", "demo"])
    assert "\tv3\tactive\t" in on.stdout
    missing = cli.invoke(app, ["facility", "show", "C-404", "-t", "demo"])
    assert missing.exit_code == 1
    assert "no such facility" in missing.stderr


def test_the_committed_demo_csv_is_what_its_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location(
        "generate_demo_facilities", ROOT / "countries" / "generate_demo_facilities.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert DEMO_CSV.read_bytes().decode("utf-8") == module.generate()


async def test_the_demo_centres_import_cleanly_over_every_region(
    clean_db: Database, cache: Cache, tenant: TenantInfo
) -> None:
    report = io.StringIO()
    summary = await import_file(
        db=clean_db, cache=cache, tenant=tenant, path=DEMO_CSV, kind="csv", report=report
    )
    assert report.getvalue().splitlines() == ["row,field,reason"]
    assert 200 <= summary.created == summary.rows <= 500
    with DEMO_CSV.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    leaves = {r.code for r in tenant.config.regions.items} - {
        r.parent for r in tenant.config.regions.items
    }
    assert {r["region_code"] for r in rows} == leaves
    assert {r["type"] for r in rows} == {"public", "private", "mobile", "outreach"}


async def test_the_demo_loads_its_centres_once(tmp_path: Path) -> None:
    from vaxport.core.cache import MemoryBackend
    from vaxport.demo import DemoReport, prepare
    from vaxport.settings import Settings

    settings = Settings(env="development", data_dir=tmp_path, countries_dir=ROOT / "countries")
    db = Database(settings.effective_database_url)
    try:
        first, again = DemoReport(url="http://x"), DemoReport(url="http://x")
        await prepare(settings, db, Cache(MemoryBackend()), first, parts=PARTS)
        await prepare(settings, db, Cache(MemoryBackend()), again, parts=PARTS)
    finally:
        await db.dispose()
    assert "  facilities  300 centres (300 new, 0 updated); http://x/demo/facilities" in first.lines
    assert "  facilities  300 centres (0 new, 0 updated); http://x/demo/facilities" in again.lines
