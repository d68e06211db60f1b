"""Public pages: the installation's landing page and each tenant's home."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.i18n import SOURCE_LOCALE, installation_languages
from vaxport.tenancy.service import get_tenant_or_404, list_tenants
from vaxport.web.offer import offers, wired
from vaxport.web.rendering import choose_locale, render
from vaxport.web.staff_common import locale_of

router = APIRouter(include_in_schema=False)


@router.api_route("/", methods=["GET", "HEAD"], dependencies=[requires("pages:read", public=True)])
async def landing(request: Request, ctx: Ctx) -> Response:
    """Every vaccination programme (tenant) served by this installation."""
    tenants = await list_tenants(db=ctx.db, cache=ctx.cache)
    page = choose_locale(request, available=installation_languages(), default=SOURCE_LOCALE)
    features = [f for f in wired(request.app) if f.audience == "public"]
    return render(request, "landing.html", page, tenants=tenants, features=features)


@router.api_route(
    "/{tenant}/", methods=["GET", "HEAD"], dependencies=[requires("pages:read", public=True)]
)
async def tenant_home(tenant: str, request: Request, ctx: Ctx) -> Response:
    """A tenant's home page, in one of the tenant's languages: what the tenant offers."""
    info = await get_tenant_or_404(db=ctx.db, cache=ctx.cache, code=tenant)
    page = locale_of(request, info)
    return render(
        request,
        "tenant_home.html",
        page,
        tenant=info,
        offers=offers(request.app, info.code, info.config),
        family_size=info.config.family.max_beneficiaries_per_account,
        vaccines=[v.name for v in info.config.vaccines if v.active],
    )
