"""Helpers of the bulk-import tests: rows, files, and one import run to its end."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import openpyxl
from sqlalchemy import func, select

from tests.registration.helpers import national_id
from vaxport.core.db import Database
from vaxport.registration.imports import importer
from vaxport.registration.imports import service as imports
from vaxport.registration.imports.schemas import ImportOut
from vaxport.registration.models import Beneficiary, BeneficiaryDocument
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

HEADER = [
    "given_name", "family_name", "sex", "birth_date", "id_type", "id_number", "phone",
    "email", "region_code", "preferred_locale",
]  # fmt: skip


def person(**cells: str) -> dict[str, str]:
    """A valid row (a fresh Luhn-valid national ID), with ``cells`` changed."""
    base = {
        "given_name": "Grace",
        "family_name": "Hopper",
        "sex": "female",
        "birth_date": "1976-12-09",
        "id_type": "national-id",
        "id_number": national_id(),
        "phone": "+1 613 555 0142",
        "email": "grace@example.org",
        "region_code": "NOR-01-01",
        "preferred_locale": "en",
    }
    base.update(cells)
    return base


def write_csv(path: Path, rows: Iterable[dict[str, str]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: Iterable[dict[str, Any]], header: list[str] = HEADER) -> Path:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(header)
    for r in rows:
        sheet.append([r.get(c) for c in header])
    book.save(path)
    return path


async def run_import(
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    path: Path,
    *,
    within_region: str | None = None,
    actor_id: uuid.UUID | None = None,
) -> tuple[ImportOut, list[dict[str, str]]]:
    """Record and run an import of ``path`` inline; its final state and error report."""
    started = await imports.create(
        db=db,
        settings=settings,
        tenant=tenant,
        upload=path,
        kind="xlsx" if path.suffix == ".xlsx" else "csv",
        actor_id=actor_id,
        actor_role="national_admin" if within_region is None else "region_admin",
        within_region=within_region,
        queue=False,
    )
    assert await importer.run(
        db=db, tenant=tenant, import_id=started.id, path=path, actor_role="national_admin"
    )
    return await imports.status(db=db, tenant=tenant, import_id=started.id), await report(
        db, tenant, started.id
    )


async def report(db: Database, tenant: TenantInfo, import_id: uuid.UUID) -> list[dict[str, str]]:
    text = "".join(
        [c async for c in imports.report_lines(db=db, tenant=tenant, import_id=import_id)]
    )
    return list(csv.DictReader(text.splitlines()))


async def people(db: Database, tenant: TenantInfo) -> tuple[int, int]:
    """How many beneficiaries and ID documents the tenant has."""
    async with db.read(tenant_id=tenant.id) as session:
        persons = await session.scalar(
            select(func.count()).select_from(Beneficiary).where(Beneficiary.tenant_id == tenant.id)
        )
        docs = await session.scalar(
            select(func.count())
            .select_from(BeneficiaryDocument)
            .where(BeneficiaryDocument.tenant_id == tenant.id)
        )
    return int(persons or 0), int(docs or 0)
