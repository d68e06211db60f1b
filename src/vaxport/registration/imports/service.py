"""Bulk import use cases: accept a file, show an import's progress, stream its errors.

Who: national administrators (anywhere) and regional administrators (their region
subtree; rows placed outside it are row errors). Citizens, vaccinators and facility staff
hold ``beneficiaries:write`` for one person at a time, never for a file: 403 on upload,
and another's import reads as missing (404), as out-of-scope objects do everywhere.

Accepting checks the header at once (a file that is not the format is a 422 naming the
unknown and missing columns, and nothing is kept), keeps the file under
``<data_dir>/imports/<import id>.<csv|xlsx>`` (mode 0600), records the import and emits
``registration.import_requested`` in one transaction. The outbox worker does the rows
(``events``); the file is deleted when the import ends. API and worker must
therefore share ``VAXPORT_DATA_DIR`` (one host, or a shared volume).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import select

from vaxport.core import audit
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.errors import Forbidden, NotFound, ValidationFailed
from vaxport.core.i18n import N_
from vaxport.core.ids import uuid7
from vaxport.core.imports.engine import REPORT_HEADER
from vaxport.core.imports.readers import Kind, read_header
from vaxport.core.outbox import emit
from vaxport.core.principal import Principal
from vaxport.core.spreadsheet import CsvWriter
from vaxport.identity import service as identity
from vaxport.identity.service import Actor
from vaxport.registration.imports.row import check_header
from vaxport.registration.imports.schemas import ImportOut
from vaxport.registration.models import ImportProblem, RegistrationImport
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantInfo

IMPORT_REQUESTED = "registration.import_requested"
IMPORTER_ROLES = (identity.NATIONAL_ADMIN, identity.REGION_ADMIN)
PERMISSION = "beneficiaries:write"
REPORT_PAGE = 1000


def uploads_dir(settings: Settings) -> Path:
    """Where accepted files wait for the worker."""
    return settings.data_dir / "imports"


def upload_path(settings: Settings, import_id: uuid.UUID, kind: str) -> Path:
    """The kept file of one import (its suffix is its format: readers go by it)."""
    return uploads_dir(settings) / f"{import_id}.{'xlsx' if kind == 'xlsx' else 'csv'}"


def importer_region(actor: Actor) -> str | None:
    """The region subtree ``actor`` imports into (None: the whole tenant); 403 if none."""
    if actor.kind != "staff" or actor.role not in IMPORTER_ROLES or actor.facility_id:
        raise Forbidden(N_("bulk imports are for national and regional administrators"))
    if actor.is_national:
        return None
    if actor.region_code is None:
        raise Forbidden(N_("your scope does not cover any region"))
    return actor.region_code


def _check_file(path: Path, kind: Kind, tenant: TenantInfo) -> str:
    """The file's SHA-256 once its header is the import format; ValidationFailed if not.

    Only the first row is read (the worker reads the rest): a workbook's body costs the
    API neither memory nor time here.
    """
    _, problems = check_header(read_header(path, kind), tenant)
    if problems:
        raise ValidationFailed(N_("the file's columns are not the import format"), errors=problems)
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


async def create(
    *,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    upload: Path,
    kind: Kind,
    actor_id: uuid.UUID | None,
    actor_role: str,
    within_region: str | None,
    queue: bool = True,
) -> ImportOut:
    """Check ``upload``'s header, record the import and, with ``queue``, keep the file
    (moved, not copied) and ask the worker to run it; the CLI runs it itself instead.
    """
    sha256 = await asyncio.to_thread(_check_file, upload, kind, tenant)
    imp = RegistrationImport(
        id=uuid7(),
        tenant_id=tenant.id,
        created_by=actor_id,
        region_code=within_region,
        file_sha256=sha256,
        file_kind=kind,
        status="running",
        rows_read=0,
        rows_created=0,
        rows_existing=0,
        rows_invalid=0,
        created_at=utcnow(),
    )
    kept = upload_path(settings, imp.id, kind)
    if queue:
        await asyncio.to_thread(_keep, upload, kept)
    try:
        async with db.transaction(tenant_id=tenant.id) as uow:
            uow.session.add(imp)
            await audit.record(
                uow,
                by=Principal.staff_or_system(actor_id, actor_role),
                action="beneficiary.import.start",
                object_type="registration_import",
                object_id=imp.id,
                details={"file_kind": kind, "region_code": within_region},
            )
            if queue:
                await emit(
                    uow,
                    IMPORT_REQUESTED,
                    {"import_id": str(imp.id), "actor_role": actor_role, "file_kind": kind},
                    dedup_key=f"registration-import:{imp.id}",
                )
    except BaseException:
        if queue:
            kept.unlink(missing_ok=True)
        raise
    return ImportOut.model_validate(imp)


def _keep(upload: Path, kept: Path) -> None:
    """Move the upload where the worker finds it, readable by this user only."""
    kept.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    shutil.move(upload, kept)
    os.chmod(kept, 0o600)


async def find(
    db: Database, tenant_id: uuid.UUID, import_id: uuid.UUID
) -> RegistrationImport | None:
    """An import of the tenant (detached, loaded), or None."""
    async with db.read(tenant_id=tenant_id) as session:
        found = await session.scalar(
            select(RegistrationImport).where(
                RegistrationImport.id == import_id, RegistrationImport.tenant_id == tenant_id
            )
        )
        if found is not None:
            session.expunge(found)  # the read's rollback would expire it
        return found


async def _visible(
    db: Database, tenant: TenantInfo, actor: Actor, import_id: uuid.UUID
) -> RegistrationImport:
    imp = await find(db, tenant.id, import_id)
    region = imp.region_code if imp is not None else None
    resource = identity.Resource(tenant_id=tenant.id, region_code=region)
    if (
        imp is None
        or actor.role not in IMPORTER_ROLES
        or actor.facility_id is not None
        or not identity.can(actor, PERMISSION, resource)
        or (imp.region_code is None and not actor.is_national)
    ):
        raise NotFound(N_("import not found"))
    return imp


async def get(*, db: Database, tenant: TenantInfo, actor: Actor, import_id: uuid.UUID) -> ImportOut:
    """An import's status and counts (404 outside the actor's reach)."""
    return ImportOut.model_validate(await _visible(db, tenant, actor, import_id))


async def status(*, db: Database, tenant: TenantInfo, import_id: uuid.UUID) -> ImportOut:
    """An import's status and counts, for the operator (no actor to authorize)."""
    imp = await find(db, tenant.id, import_id)
    if imp is None:
        raise NotFound(N_("import not found"))
    return ImportOut.model_validate(imp)


async def error_report(
    *, db: Database, tenant: TenantInfo, actor: Actor, import_id: uuid.UUID
) -> AsyncIterator[str]:
    """The import's problems as CSV (``row,field,reason``), a page at a time.

    Authorizes before returning the stream, so a refusal is an ordinary 404.
    """
    await _visible(db, tenant, actor, import_id)
    return report_lines(db=db, tenant=tenant, import_id=import_id)


async def report_lines(
    *, db: Database, tenant: TenantInfo, import_id: uuid.UUID
) -> AsyncIterator[str]:
    """CSV text of an import's problems, in row order, read in keyset pages."""
    out = io.StringIO()
    writer = CsvWriter(out)
    writer.row(REPORT_HEADER)
    yield out.getvalue()
    after: tuple[int, uuid.UUID] | None = None
    while True:
        query = (
            select(ImportProblem.row, ImportProblem.id, ImportProblem.field, ImportProblem.reason)
            .where(ImportProblem.tenant_id == tenant.id, ImportProblem.import_id == import_id)
            .order_by(ImportProblem.row, ImportProblem.id)
            .limit(REPORT_PAGE)
        )
        if after is not None:
            query = query.where(
                (ImportProblem.row > after[0])
                | ((ImportProblem.row == after[0]) & (ImportProblem.id > after[1]))
            )
        async with db.read(tenant_id=tenant.id) as session:
            page = (await session.execute(query)).all()
        if not page:
            return
        out.seek(0)
        out.truncate()
        for row, _, field, reason in page:
            writer.row((row, field, reason))
        yield out.getvalue()
        after = (page[-1][0], page[-1][1])
