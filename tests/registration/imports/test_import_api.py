"""Bulk import over HTTP: upload (202), the worker runs it, progress and the error report;
who may upload and who may read an import; upload limits; the CLI."""

from __future__ import annotations

import asyncio
import csv
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Request
from typer.testing import CliRunner

from tests.identity.helpers import actor_for
from tests.registration.imports.import_support import HEADER, people, person, write_csv, write_xlsx
from tests.support.tenants import load_tenant
from tests.support.workbooks import huge_body
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.imports.readers import XLSX_MEDIA_TYPE
from vaxport.core.outbox import Subscriptions, Worker
from vaxport.identity.access.edge import check_permission
from vaxport.registration.imports import events as import_events
from vaxport.registration.imports import service as imports
from vaxport.registration.imports.service import upload_path
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


@pytest.fixture
async def tenant(clean_db: Database, cache: Cache) -> TenantInfo:
    return await load_tenant(clean_db, cache)


class As:
    """Stands in for authentication: the request acts as ``role`` of a tenant (then the
    real permission check runs: tenant in the path, role, CSRF)."""

    def __init__(self, tenant: TenantInfo) -> None:
        self.tenant = tenant
        self.set("national_admin")

    def set(self, role: str, **scope: Any) -> None:
        kind = "citizen" if role == "citizen" else "staff"
        self.actor = actor_for(self.tenant, role, kind=kind, **scope)

    async def __call__(self, request: Request, permission: str) -> None:
        request.scope["state"]["actor"] = self.actor
        request.scope["state"]["principal_id"] = str(self.actor.account_id)
        await check_permission(request, permission)


@pytest.fixture
def who(app: Any, tenant: TenantInfo) -> As:
    stand_in = As(tenant)
    app.state.permission_check = stand_in
    return stand_in


async def work(db: Database, cache: Cache, settings: Settings) -> int:
    subscriptions = Subscriptions(import_events.SUBSCRIBERS)
    return await Worker(
        db, cache, settings, subscriptions=subscriptions, worker_id="import-test"
    ).run(asyncio.Event(), once=True)


def url(tenant: TenantInfo, tail: str = "") -> str:
    return f"/api/v1/{tenant.code}/beneficiaries/imports{tail}"


async def upload(client: httpx.AsyncClient, tenant: TenantInfo, path: Path) -> httpx.Response:
    media = XLSX_MEDIA_TYPE if path.suffix == ".xlsx" else "text/csv"
    data = await asyncio.to_thread(path.read_bytes)
    return await client.post(url(tenant), content=data, headers={"Content-Type": media})


ROWS = [person(), person(region_code="SOU-01-01"), person(sex="?"), person()]


async def test_an_upload_is_accepted_run_by_the_worker_and_reported(
    client: httpx.AsyncClient,
    who: As,
    tenant: TenantInfo,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tmp_path: Path,
) -> None:
    r = await upload(client, tenant, write_xlsx(tmp_path / "p.xlsx", ROWS))
    assert r.status_code == 202, r.text
    body = r.json()
    assert (body["status"], body["rows_read"], body["file_kind"]) == ("running", 0, "xlsx")
    assert r.headers["location"] == url(tenant, f"/{body['id']}")
    kept = upload_path(settings, uuid.UUID(body["id"]), "xlsx")
    assert kept.is_file()
    assert kept.stat().st_mode & 0o077 == 0  # readable by the service only
    assert await work(clean_db, cache, settings) == 1
    r = await client.get(url(tenant, f"/{body['id']}"))
    assert r.status_code == 200
    assert {k: r.json()[k] for k in ("status", "rows_read", "rows_created", "rows_invalid")} == {
        "status": "done", "rows_read": 4, "rows_created": 3, "rows_invalid": 1,
    }  # fmt: skip
    assert r.json()["finished_at"] is not None
    assert not kept.exists()  # the file of people is gone once imported
    r = await client.get(url(tenant, f"/{body['id']}/errors"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(r.text.splitlines())) == [
        ["row", "field", "reason"],
        ["4", "sex", "must be one of female, male, other, unknown"],
    ]
    # The same file again: accepted, and it creates nobody.
    r = await upload(client, tenant, write_xlsx(tmp_path / "p.xlsx", ROWS))
    await work(clean_db, cache, settings)
    again = (await client.get(url(tenant, f"/{r.json()['id']}"))).json()
    assert (again["rows_created"], again["rows_existing"]) == (0, 3)
    assert await people(clean_db, tenant) == (3, 3)


async def test_a_file_that_is_not_the_format_is_refused_at_upload(
    client: httpx.AsyncClient, who: As, tenant: TenantInfo, settings: Settings, tmp_path: Path
) -> None:
    header = [c for c in HEADER if c != "given_name"] + ["nickname"]
    r = await upload(client, tenant, write_csv(tmp_path / "h.csv", [person()], header))
    assert r.status_code == 422
    assert [(e["field"], e["reason"]) for e in r.json()["errors"]] == [
        ("nickname", "is not a column of the import format"),
        ("given_name", "is a required column"),
    ]
    r = await client.post(url(tenant), content=b"{}", headers={"Content-Type": "application/json"})
    assert r.status_code == 415
    r = await client.post(
        url(tenant), content=b"not a zip", headers={"Content-Type": XLSX_MEDIA_TYPE}
    )
    assert r.status_code == 422
    assert [(e["field"], e["reason"]) for e in r.json()["errors"]] == [
        ("file", "is not an .xlsx workbook")
    ]
    assert list((settings.data_dir / "imports").iterdir()) == []  # nothing kept


@pytest.mark.parametrize(
    ("role", "scope"),
    [
        ("citizen", {}),
        ("vaccinator", {"region_code": "NOR"}),
        ("vaccinator", {"facility_id": uuid.uuid4()}),
        ("support", {}),
    ],
)
async def test_only_national_and_regional_admins_may_upload(
    client: httpx.AsyncClient,
    who: As,
    tenant: TenantInfo,
    tmp_path: Path,
    role: str,
    scope: dict[str, Any],
) -> None:
    who.set(role, **scope)
    r = await upload(client, tenant, write_csv(tmp_path / "p.csv", ROWS))
    assert r.status_code == 403


async def test_a_regional_admins_upload_is_bounded_by_their_region(
    client: httpx.AsyncClient,
    who: As,
    tenant: TenantInfo,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tmp_path: Path,
) -> None:
    who.set("region_admin", region_code="NOR")
    r = await upload(client, tenant, write_csv(tmp_path / "p.csv", ROWS))
    assert r.status_code == 202
    import_id = r.json()["id"]
    await work(clean_db, cache, settings)
    done = (await client.get(url(tenant, f"/{import_id}"))).json()
    assert (done["region_code"], done["rows_created"], done["rows_invalid"]) == ("NOR", 2, 2)
    errors = (await client.get(url(tenant, f"/{import_id}/errors"))).text.splitlines()
    assert errors[1] == "3,region_code,is outside your region (NOR)"


async def test_others_cannot_read_an_import_or_its_errors(
    client: httpx.AsyncClient,
    who: As,
    tenant: TenantInfo,
    clean_db: Database,
    cache: Cache,
    tmp_path: Path,
) -> None:
    r = await upload(client, tenant, write_csv(tmp_path / "p.csv", ROWS))
    import_id = r.json()["id"]
    other = await load_tenant(clean_db, cache)
    readers: list[tuple[TenantInfo, str, dict[str, Any]]] = [
        (tenant, "citizen", {}),
        (tenant, "vaccinator", {"region_code": "NOR"}),
        (tenant, "region_admin", {"region_code": "NOR"}),  # a national import
        (other, "national_admin", {}),
    ]
    for home, role, scope in readers:
        who.tenant = home
        who.set(role, **scope)
        for tail in ("", "/errors"):
            r = await client.get(url(tenant, f"/{import_id}{tail}"))
            assert r.status_code == 404, (role, tail, r.text)
            assert "row" not in r.text
    who.tenant = tenant
    who.set("national_admin")
    assert (await client.get(url(tenant, f"/{uuid.uuid4()}"))).status_code == 404


async def test_an_upload_beyond_its_ceiling_is_413_and_leaves_nothing(
    settings: Settings, clean_db: Database, cache: Cache, tenant: TenantInfo
) -> None:
    from vaxport.app import create_app

    app = create_app(
        settings.model_copy(update={"upload_max_bytes": 4096}), database=clean_db, cache=cache
    )
    app.state.permission_check = As(tenant)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.post(url(tenant), content=b"x" * 5000, headers={"Content-Type": "text/csv"})
    assert r.status_code == 413
    assert not (settings.data_dir / "imports").exists()


def test_the_cli_imports_a_file_with_progress_and_a_report(
    settings: Settings, tenant: TenantInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaxport import settings as settings_module
    from vaxport.cli import app

    monkeypatch.setattr(settings_module, "get_settings", lambda: settings)
    path = write_csv(tmp_path / "people.csv", ROWS)
    report = tmp_path / "errors.csv"
    args = ["beneficiaries", "import", str(path), "--tenant", tenant.code, "--report", str(report)]
    result = CliRunner().invoke(app, [*args, "--region", "NOR"])
    assert result.exit_code == 1, result.output  # some rows were invalid
    assert "4 rows: 2 created, 0 existing, 2 invalid" in result.stdout
    assert "rows read" in result.stderr
    assert report.read_text().splitlines()[1:] == [
        "3,region_code,is outside your region (NOR)",
        '4,sex,"must be one of female, male, other, unknown"',
    ]
    again = CliRunner().invoke(app, args)
    assert "4 rows: 1 created, 2 existing, 1 invalid" in again.stdout
    assert path.is_file()  # the operator's file is left where it was


async def test_accepting_a_workbook_reads_its_header_alone_in_bounded_memory(
    clean_db: Database, settings: Settings, tenant: TenantInfo, tmp_path: Path
) -> None:
    # Issue 12, finding 4: the API's header check parsed the whole workbook (the worker
    # reads it after); now its memory does not grow with the rows.
    path = tmp_path / "big.xlsx"
    path.write_bytes(huge_body(HEADER))
    tracemalloc.start()
    try:
        started = await imports.create(
            db=clean_db,
            settings=settings,
            tenant=tenant,
            upload=path,
            kind="xlsx",
            actor_id=None,
            actor_role="national_admin",
            within_region=None,
            queue=False,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert started.status == "running"
    assert peak < 4 << 20, f"peak {peak >> 10} KiB"
