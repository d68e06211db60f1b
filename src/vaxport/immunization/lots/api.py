"""HTTP routes of vaccine lots: ``/api/v1/{tenant}/lots``.

Staff who record doses, managers and admins read lots (``lots:read``); national and
regional admins register, import and change them and list who received one
(``lots:write``). A lot of another tenant answers 404; a second lot number for the same
product 409 ``lot-exists``; a change against an older ``version`` 409.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from starlette.background import BackgroundTask
from starlette.responses import FileResponse

from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.imports.readers import XLSX_MEDIA_TYPE
from vaxport.core.imports.upload import remove_tree, spool, upload_kind
from vaxport.identity.service import CurrentActor, PathTenant
from vaxport.immunization.lots import importer, recipients, service
from vaxport.immunization.lots.schemas import (
    LotChange,
    LotIn,
    LotListQuery,
    LotOut,
    LotPage,
    RecipientPage,
    RecipientsQuery,
)

router = APIRouter(tags=["lots"])

READ = requires("lots:read")
WRITE = requires("lots:write")
UPLOAD = requires("lots:write", upload=True)
BASE = "/api/v1/{tenant}/lots"
ITEM = BASE + "/{lot_id}"

_MISSING: dict[int | str, dict[str, Any]] = {404: {"description": "No such lot"}}
LOTS_CSV_EXAMPLE = (
    "product_id,lot_number,manufacturer,expires_on,doses_per_vial\n"
    "covid-mrna,FH8020,,2027-06-30,6\n"
)


@router.post(
    BASE,
    dependencies=[WRITE],
    status_code=201,
    operation_id="create_lot",
    summary="Register a vaccine lot",
    responses={409: {"description": "This lot number is registered for the product already"}},
)
async def create_lot(
    tenant: PathTenant, body: LotIn, response: Response, ctx: Ctx, actor: CurrentActor
) -> LotOut:
    """The lot number is trimmed and upper-cased; the manufacturer defaults to the product's."""
    created = await service.create(db=ctx.db, tenant=tenant, actor=actor, body=body)
    response.headers["Location"] = f"/api/v1/{tenant.code}/lots/{created.id}"
    return created


@router.get(BASE, dependencies=[READ], operation_id="list_lots", summary="List lots")
async def list_lots(
    tenant: PathTenant, ctx: Ctx, actor: CurrentActor, query: Annotated[LotListQuery, Query()]
) -> LotPage:
    """Newest first; filter by product, expiry before a date, hold and flag."""
    return await service.list_lots(db=ctx.db, tenant=tenant, actor=actor, query=query)


@router.post(
    BASE + "/import",
    dependencies=[UPLOAD],
    operation_id="import_lots",
    summary="Register lots from CSV or XLSX",
    responses={200: {"content": {"text/csv": {}}, "description": "summary or error report"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"example": LOTS_CSV_EXAMPLE},
                XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def import_lots(
    tenant: PathTenant, request: Request, ctx: Ctx, actor: CurrentActor
) -> Response:
    """The summary as JSON, or the full error report (``row,field,reason``) when
    ``Accept: text/csv``. Re-uploading a file changes nothing."""
    kind = upload_kind(request)
    work = Path(tempfile.mkdtemp(prefix="vaxport-lots-"))
    report_path = work / "errors.csv"
    try:
        upload = await spool(request, ctx.settings.upload_max_bytes, work, kind)
        with report_path.open("w", encoding="utf-8", newline="") as report:
            summary = await importer.import_file(
                db=ctx.db, tenant=tenant, actor=actor, path=upload, kind=kind, report=report
            )
    except BaseException:
        remove_tree(work)
        raise
    if "text/csv" in request.headers.get("accept", ""):
        return FileResponse(
            report_path,
            media_type="text/csv; charset=utf-8",
            filename="lot-import-errors.csv",
            background=BackgroundTask(remove_tree, work),
        )
    remove_tree(work)
    return Response(summary.model_dump_json(), media_type="application/json")


@router.get(
    ITEM, dependencies=[READ], operation_id="get_lot", summary="One lot", responses=_MISSING
)
async def get_lot(tenant: PathTenant, lot_id: uuid.UUID, ctx: Ctx, actor: CurrentActor) -> LotOut:
    """404 for a lot of another tenant."""
    return await service.get(db=ctx.db, tenant=tenant, actor=actor, lot_id=lot_id)


@router.patch(
    ITEM,
    dependencies=[WRITE],
    operation_id="change_lot",
    summary="Hold or release a lot, or correct its expiry or vial size",
    responses={**_MISSING, 409: {"description": "The lot changed since that version"}},
)
async def change_lot(
    tenant: PathTenant, lot_id: uuid.UUID, body: LotChange, ctx: Ctx, actor: CurrentActor
) -> LotOut:
    """A hold or a release needs a ``reason``; every change is audited."""
    return await service.change(db=ctx.db, tenant=tenant, actor=actor, lot_id=lot_id, body=body)


@router.get(
    ITEM + "/recipients",
    dependencies=[WRITE],
    operation_id="list_lot_recipients",
    summary="The people who received a dose from a lot (audited)",
    responses=_MISSING,
)
async def list_lot_recipients(
    tenant: PathTenant,
    lot_id: uuid.UUID,
    ctx: Ctx,
    actor: CurrentActor,
    query: Annotated[RecipientsQuery, Query()],
) -> RecipientPage:
    """Only the doses in your reach; each page read is audited."""
    return await recipients.list_recipients(
        db=ctx.db, tenant=tenant, actor=actor, lot_id=lot_id, query=query
    )
