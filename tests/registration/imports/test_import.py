"""Bulk import of beneficiaries: row checks with an error report, idempotent re-runs,
XLSX, header errors, region limits, in-file duplicates, concurrent imports, resuming."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

from tests.registration.helpers import national_id
from tests.registration.imports.import_support import (
    HEADER,
    people,
    person,
    report,
    run_import,
    write_csv,
    write_xlsx,
)
from tests.registration.review.review_support import add_person, events
from tests.support.tenants import load_tenant
from vaxport.core.audit.models import AuditEntry
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.errors import ValidationFailed
from vaxport.registration.imports import importer
from vaxport.registration.imports import service as imports
from vaxport.registration.models import Beneficiary, BeneficiaryDocument, DuplicateFlag
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


@pytest.fixture
async def tenant(clean_db: Database, cache: Cache) -> TenantInfo:
    return await load_tenant(clean_db, cache)


DUP = national_id()
MIXED = [
    person(given_name="Ok", id_number=DUP),
    person(region_code="NOR-99"),
    person(id_number="1234567890"),  # Luhn check digit wrong
    person(sex="x", birth_date="1976-13-45"),
    person(id_number=DUP, given_name="Again"),
    person(phone="12", email="nope", preferred_locale="de"),
    # (no leading zero: the XLSX test writes this ID as a number cell)
    person(
        family_name="", phone="", email="", preferred_locale="", id_number=national_id(987654321)
    ),
    person(region_code="NOR-01"),
]


async def test_a_mixed_file_imports_good_rows_and_reports_bad_ones_without_values(
    clean_db: Database, settings: Settings, tenant: TenantInfo, tmp_path: Path
) -> None:
    done, problems = await run_import(
        clean_db, settings, tenant, write_csv(tmp_path / "mixed.csv", MIXED)
    )
    assert (done.status, done.rows_read, done.rows_created, done.rows_existing) == (
        "done", 8, 2, 0,
    )  # fmt: skip
    assert done.rows_invalid == 6
    assert [(r["row"], r["field"]) for r in problems] == [
        ("3", "region_code"),
        ("4", "id_number"),
        ("5", "birth_date"),  # a shape error: the tenant's checks wait until it is fixed
        ("6", "id_number"),
        ("7", "phone"),
        ("7", "email"),
        ("7", "preferred_locale"),
        ("9", "region_code"),
    ]
    assert problems[3]["reason"] == "appears earlier in this file (row 2)"
    assert problems[0]["reason"] == "unknown region"
    # The report names rows, columns and reasons: never a cell's value.
    text = "\n".join(",".join(r.values()) for r in problems)
    for cell in {v for r in MIXED for v in r.values() if len(v) > 3}:
        assert cell not in text
    assert await people(clean_db, tenant) == (2, 2)
    async with clean_db.read(tenant_id=tenant.id) as session:
        stored = (await session.scalars(select(Beneficiary).order_by(Beneficiary.id))).all()
        assert [(b.given_name, b.created_via, b.region_code) for b in stored] == [
            ("Ok", "import", "NOR-01-01"),
            ("Grace", "import", "NOR-01-01"),
        ]
        assert stored[0].phone == "+16135550142"
        assert stored[1].family_name is None
        doc = await session.scalar(
            select(BeneficiaryDocument).where(BeneficiaryDocument.beneficiary_id == stored[0].id)
        )
        assert doc is not None
        assert doc.number == DUP


async def test_running_the_same_file_again_creates_nobody(
    clean_db: Database, settings: Settings, tenant: TenantInfo, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "f.csv", [person() for _ in range(30)])
    first, _ = await run_import(clean_db, settings, tenant, path)
    again, problems = await run_import(clean_db, settings, tenant, path)
    assert (first.rows_created, first.rows_existing) == (30, 0)
    assert (again.rows_created, again.rows_existing, again.rows_invalid) == (0, 30, 0)
    assert problems == []
    assert await people(clean_db, tenant) == (30, 30)


async def test_an_xlsx_workbook_imports_like_its_csv(
    clean_db: Database, settings: Settings, tenant: TenantInfo, tmp_path: Path
) -> None:
    import datetime as dt

    rows: list[dict[str, object]] = [dict(r) for r in MIXED]
    rows[0]["birth_date"] = dt.datetime(1976, 12, 9)  # a date cell, as spreadsheets save it
    rows[6]["id_number"] = int(str(rows[6]["id_number"]))  # a number cell
    xlsx, xlsx_report = await run_import(
        clean_db, settings, tenant, write_xlsx(tmp_path / "mixed.xlsx", rows)
    )
    assert (xlsx.rows_read, xlsx.rows_created, xlsx.rows_invalid) == (8, 2, 6)
    again, csv_report = await run_import(
        clean_db, settings, tenant, write_csv(tmp_path / "mixed.csv", MIXED)
    )
    assert (again.rows_created, again.rows_existing) == (0, 2)
    assert csv_report == xlsx_report


@pytest.mark.parametrize(
    ("header", "problems"),
    [
        ([*HEADER, "colour"], [("colour", "is not a column of the import format")]),
        (
            [c for c in HEADER if c not in {"id_number", "birth_date"}],
            [("id_number", "is a required column"), ("birth_date", "is a required column")],
        ),
        ([*HEADER, "Sex"], [("Sex", "appears more than once")]),
    ],
)
async def test_a_file_with_wrong_columns_is_refused_whole(
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    tmp_path: Path,
    header: list[str],
    problems: list[tuple[str, str]],
) -> None:
    path = write_csv(tmp_path / "h.csv", [person()], header)
    with pytest.raises(ValidationFailed) as caught:
        await run_import(clean_db, settings, tenant, path)
    assert [(e["field"], e["reason"]) for e in caught.value.errors] == problems
    assert await people(clean_db, tenant) == (0, 0)


async def test_a_birth_year_tenant_takes_a_birth_year_column(
    clean_db: Database, settings: Settings, cache: Cache, tmp_path: Path
) -> None:
    years = await load_tenant(clean_db, cache, changes={"registration": {"birth": "year"}})
    header = [c if c != "birth_date" else "birth_year" for c in HEADER]
    rows = [{**person(), "birth_year": "1950"}, {**person(), "birth_year": "3000"}]
    done, problems = await run_import(
        clean_db, settings, years, write_csv(tmp_path / "y.csv", rows, header)
    )
    assert (done.rows_created, done.rows_invalid) == (1, 1)
    assert [(r["row"], r["field"]) for r in problems] == [("3", "birth_year")]


async def test_a_regional_admin_imports_only_inside_their_region(
    clean_db: Database, settings: Settings, tenant: TenantInfo, tmp_path: Path
) -> None:
    rows = [person(), person(region_code="SOU-01-01"), person(region_code="NOR-02-02")]
    done, problems = await run_import(
        clean_db, settings, tenant, write_csv(tmp_path / "r.csv", rows), within_region="NOR-01"
    )
    assert (done.rows_created, done.rows_invalid, done.region_code) == (1, 2, "NOR-01")
    assert [(r["row"], r["field"], r["reason"]) for r in problems] == [
        ("3", "region_code", "is outside your region (NOR-01)"),
        ("4", "region_code", "is outside your region (NOR-01)"),
    ]


async def test_each_import_is_audited_without_personal_data(
    clean_db: Database, settings: Settings, tenant: TenantInfo, tmp_path: Path
) -> None:
    rows = [person(given_name="Zelda"), person(region_code="nowhere")]
    done, _ = await run_import(clean_db, settings, tenant, write_csv(tmp_path / "a.csv", rows))
    async with clean_db.read(tenant_id=tenant.id) as session:
        entries = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.object_id, AuditEntry.details)
                .where(AuditEntry.tenant_id == tenant.id, AuditEntry.action.like("beneficiary.%"))
                .order_by(AuditEntry.id)
            )
        ).all()
    # An imported person is registered like any other (one action, whichever door).
    assert [e.action for e in entries] == [
        "beneficiary.import.start", "beneficiary.register", "beneficiary.import.finish",
    ]  # fmt: skip
    assert entries[1].details == {
        "via": "import", "documents": 1, "flags": 0, "import_id": str(done.id)
    }  # fmt: skip
    finish = entries[-1]
    assert finish.object_id == str(done.id)
    assert finish.details == {
        "rows": 2, "created": 1, "existing": 0, "invalid": 1, "complete": True
    }  # fmt: skip
    assert all("Zelda" not in str(e.details) for e in entries)


async def test_overlapping_imports_running_at_once_create_each_person_once(
    clean_db: Database, settings: Settings, tenant: TenantInfo, tmp_path: Path
) -> None:
    shared = [person() for _ in range(importer.BATCH_SIZE + 40)]
    a = write_csv(tmp_path / "a.csv", [*shared, person()])
    b = write_csv(tmp_path / "b.csv", [person(), *reversed(shared)])
    (one, _), (two, _) = await asyncio.gather(
        run_import(clean_db, settings, tenant, a), run_import(clean_db, settings, tenant, b)
    )
    assert one.rows_created + two.rows_created == len(shared) + 2
    assert one.rows_existing + two.rows_existing == len(shared)
    assert await people(clean_db, tenant) == (len(shared) + 2, len(shared) + 2)


async def test_an_interrupted_import_resumes_after_its_last_batch(
    clean_db: Database, settings: Settings, tenant: TenantInfo, tmp_path: Path
) -> None:
    n = importer.BATCH_SIZE * 2 + 10
    rows = [person() for _ in range(n)]
    rows[importer.BATCH_SIZE + 5] = dict(rows[3])  # a repeat the resumed run must still see
    rows[7]["sex"] = "?"
    path = write_csv(tmp_path / "big.csv", rows)
    started = await imports.create(
        db=clean_db, settings=settings, tenant=tenant, upload=path, kind="csv",
        actor_id=None, actor_role="operator", within_region=None, queue=False,
    )  # fmt: skip
    # A deadline already passed: one batch is written, then the run yields.
    assert not await importer.run(
        db=clean_db, tenant=tenant, import_id=started.id, path=path, actor_role="operator",
        deadline=time.monotonic(),
    )  # fmt: skip
    half = await imports.status(db=clean_db, tenant=tenant, import_id=started.id)
    assert (half.status, half.rows_read, half.rows_created, half.rows_invalid) == (
        "running", importer.BATCH_SIZE, importer.BATCH_SIZE - 1, 1,
    )  # fmt: skip
    assert await importer.run(
        db=clean_db, tenant=tenant, import_id=started.id, path=path, actor_role="operator"
    )
    done = await imports.status(db=clean_db, tenant=tenant, import_id=started.id)
    assert (done.status, done.rows_read, done.rows_created, done.rows_invalid) == (
        "done", n, n - 2, 2,
    )  # fmt: skip
    assert [(r["row"], r["field"]) for r in await report(clean_db, tenant, started.id)] == [
        ("9", "sex"),
        (str(importer.BATCH_SIZE + 7), "id_number"),
    ]
    # Delivered again after it ended: nothing changes.
    assert await importer.run(
        db=clean_db, tenant=tenant, import_id=started.id, path=path, actor_role="operator"
    )
    assert await people(clean_db, tenant) == (n - 2, n - 2)


async def test_two_deliveries_running_one_import_at_once_count_each_row_once(
    clean_db: Database, settings: Settings, tenant: TenantInfo, tmp_path: Path
) -> None:
    n = importer.BATCH_SIZE * 3
    path = write_csv(tmp_path / "twice.csv", [person() for _ in range(n)])
    started = await imports.create(
        db=clean_db, settings=settings, tenant=tenant, upload=path, kind="csv",
        actor_id=None, actor_role="operator", within_region=None, queue=False,
    )  # fmt: skip

    async def deliver() -> bool:
        return await importer.run(
            db=clean_db, tenant=tenant, import_id=started.id, path=path, actor_role="operator"
        )

    assert await asyncio.gather(deliver(), deliver()) == [True, True]
    done = await imports.status(db=clean_db, tenant=tenant, import_id=started.id)
    assert (done.status, done.rows_read, done.rows_created, done.rows_existing) == (
        "done", n, n, 0,
    )  # fmt: skip
    assert await people(clean_db, tenant) == (n, n)


async def test_an_import_whose_file_is_gone_fails_with_a_file_problem(
    clean_db: Database, settings: Settings, tenant: TenantInfo, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "gone.csv", [person()])
    started = await imports.create(
        db=clean_db, settings=settings, tenant=tenant, upload=path, kind="csv",
        actor_id=None, actor_role="operator", within_region=None, queue=False,
    )  # fmt: skip
    path.unlink()
    assert await importer.run(
        db=clean_db, tenant=tenant, import_id=started.id, path=path, actor_role="operator"
    )
    done = await imports.status(db=clean_db, tenant=tenant, import_id=started.id)
    assert (done.status, done.rows_read) == ("failed", 0)
    assert [(r["field"], r["reason"]) for r in await report(clean_db, tenant, started.id)] == [
        ("file", "the uploaded file is no longer available; upload it again")
    ]


async def test_imported_lookalikes_are_flagged_once_each_with_one_query_per_batch(
    clean_db: Database, settings: Settings, tenant: TenantInfo, tmp_path: Path
) -> None:
    grace: dict[str, Any] = {
        "given_name": "Grace",
        "family_name": "Hopper",
        "birth_date": dt.date(1976, 12, 9),
    }
    earlier = await add_person(clean_db, tenant, region_code="NOR-01-01", **grace)
    await add_person(clean_db, tenant, region_code="NOR-01-02", **grace)  # another region
    rows = [person(), person(given_name="Ada"), person()]  # two look-alikes of `earlier`
    lookups: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if "row_number" in statement.lower():
            lookups.append(statement)

    def logged(query: Any) -> None:  # statements sent on asyncpg itself (write_batch)
        count(None, None, query.query)

    def checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        if clean_db.is_postgres:
            dbapi_conn.driver_connection.add_query_logger(logged)

    def checkin(dbapi_conn: Any, _record: Any) -> None:
        if clean_db.is_postgres:
            dbapi_conn.driver_connection.remove_query_logger(logged)

    engine = clean_db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    try:
        done, _ = await run_import(clean_db, settings, tenant, write_csv(tmp_path / "f.csv", rows))
    finally:
        event.remove(engine, "before_cursor_execute", count)
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)
    assert done.rows_created == 3
    assert len(lookups) == 1
    async with clean_db.read(tenant_id=tenant.id) as s:
        flags = (
            await s.execute(select(DuplicateFlag.beneficiary_id, DuplicateFlag.candidate_id))
        ).all()
        made = (
            await s.scalars(select(Beneficiary).where(Beneficiary.created_via == "import"))
        ).all()
        graces = [b.id for b in made if b.given_name == "Grace"]
        made_ids = [b.id for b in made]
    assert len(graces) == 2
    # Each imported Grace against the earlier one (same region only), and the later
    # Grace against the earlier in the file: one flag per pair, never both ways.
    pairs = {frozenset(f) for f in flags}
    assert len(flags) == len(pairs) == 3
    assert pairs == {
        frozenset({graces[0], earlier}),
        frozenset({graces[1], earlier}),
        frozenset({graces[0], graces[1]}),
    }
    registered = await events(clean_db, tenant, "beneficiary.registered")
    assert sorted(p["beneficiary_id"] for _, p in registered) == sorted(str(m) for m in made_ids)
    assert {p["created_via"] for _, p in registered} == {"import"}
    # Running the file again opens nothing new.
    await run_import(clean_db, settings, tenant, write_csv(tmp_path / "g.csv", rows))
    async with clean_db.read(tenant_id=tenant.id) as s:
        assert len((await s.execute(select(DuplicateFlag.id))).all()) == 3
