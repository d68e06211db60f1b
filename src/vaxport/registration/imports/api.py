"""HTTP routes of bulk beneficiary imports (see docs/registration-import.md).

``POST`` takes the file as the request body (``text/csv`` or an .xlsx workbook; the
upload ceiling ``VAXPORT_UPLOAD_MAX_BYTES`` applies), streams it to disk and answers
202 with the import: the outbox worker does the rows. ``GET`` shows its progress, and
``.../errors`` streams its error report as CSV.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.imports.readers import XLSX_MEDIA_TYPE
from vaxport.core.imports.upload import remove_tree, spool, upload_kind
from vaxport.identity.service import CurrentActor
from vaxport.registration.imports import service as imports
from vaxport.registration.imports.schemas import ImportOut
from vaxport.tenancy.service import get_tenant_or_404

router = APIRouter(tags=["beneficiaries"])

UPLOAD = requires("beneficiaries:write", upload=True)
READ = requires("beneficiaries:read")

# The header and one row, as docs/registration-import.md describes them.
PEOPLE_CSV_EXAMPLE = (
    "given_name,family_name,sex,birth_date,id_type,id_number,phone,email,region_code,"
    "preferred_locale\n"
    "Amina,Okafor,female,1984-03-12,national-id,850 412 307 9,+1 613 555 0142,"
    "amina@example.org,NOR-01-01,en\n"
)


@router.post(
    "/api/v1/{tenant}/beneficiaries/imports",
    dependencies=[UPLOAD],
    status_code=202,
    response_model=ImportOut,
    summary="Import beneficiaries from CSV or XLSX",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"example": PEOPLE_CSV_EXAMPLE},
                XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def start_import(tenant: str, request: Request, ctx: Ctx, who: CurrentActor) -> Response:
    """Accept a file of people (columns in docs/registration-import.md); 202 and its id.

    A file whose header is not the format is refused whole (422 naming the columns).
    """
    info = await get_tenant_or_404(db=ctx.db, cache=ctx.cache, code=tenant)
    region = imports.importer_region(who)  # refused before the body is read
    kind = upload_kind(request)
    directory = imports.uploads_dir(ctx.settings)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    work = Path(tempfile.mkdtemp(prefix="incoming-", dir=directory))
    try:
        upload = await spool(request, ctx.settings.upload_max_bytes, work, kind)
        out = await imports.create(
            db=ctx.db,
            settings=ctx.settings,
            tenant=info,
            upload=upload,
            kind=kind,
            actor_id=who.account_id,
            actor_role=who.role,
            within_region=region,
        )
    finally:
        remove_tree(work)  # the accepted file was moved out; anything left is refused
    location = f"/api/v1/{tenant}/beneficiaries/imports/{out.id}"
    return Response(
        out.model_dump_json(), status_code=202, media_type="application/json",
        headers={"Location": location},
    )  # fmt: skip


@router.get(
    "/api/v1/{tenant}/beneficiaries/imports/{import_id}",
    dependencies=[READ],
    response_model=ImportOut,
    summary="An import's progress",
)
async def get_import(tenant: str, import_id: uuid.UUID, ctx: Ctx, who: CurrentActor) -> ImportOut:
    """Status (running, done, failed) and the rows read, created, existing and invalid."""
    info = await get_tenant_or_404(db=ctx.db, cache=ctx.cache, code=tenant)
    return await imports.get(db=ctx.db, tenant=info, actor=who, import_id=import_id)


@router.get(
    "/api/v1/{tenant}/beneficiaries/imports/{import_id}/errors",
    dependencies=[READ],
    summary="An import's error report (CSV: row, field, reason)",
    responses={200: {"content": {"text/csv": {}}, "description": "the error report"}},
)
async def get_import_errors(
    tenant: str, import_id: uuid.UUID, ctx: Ctx, who: CurrentActor
) -> Response:
    """Every problem found so far, one line each; cell values are never included."""
    info = await get_tenant_or_404(db=ctx.db, cache=ctx.cache, code=tenant)
    lines = await imports.error_report(db=ctx.db, tenant=info, actor=who, import_id=import_id)
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{import_id}-errors.csv"'},
    )
