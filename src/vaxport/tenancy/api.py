"""HTTP routes of the tenancy context."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from vaxport.core.http.answers import keep_answer
from vaxport.core.http.conditional import etag_matches
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.tenancy import service
from vaxport.tenancy.schemas import PublicConfig

router = APIRouter(tags=["tenancy"])


@router.get(
    "/api/v1/{tenant}/config",
    dependencies=[requires("config:read", public=True)],
    response_model=PublicConfig,
    responses={304: {"description": "Not modified (the ETag still matches)"}},
    summary="The tenant's public configuration",
)
async def get_config(tenant: str, request: Request, ctx: Ctx) -> Response:
    """Regions, ID types, vaccines and rules a client needs; cacheable, with an ETag."""
    doc = await service.get_public_config(db=ctx.db, cache=ctx.cache, code=tenant)
    headers = {
        "ETag": doc.etag,
        "Cache-Control": f"public, max-age={ctx.settings.config_cache_seconds}",
    }
    if etag_matches(request.headers.get("if-none-match"), doc.etag):
        return Response(status_code=304, headers=headers)
    keep_answer(request)  # a load in this process drops it (the shared cache's delete)
    return Response(doc.body, media_type="application/json", headers=headers)
