"""Staff pages: the tenant's vaccine lots, and registering one with a form.

Everyone who records doses reads the list (``lots:read``); national and regional admins
register lots (``lots:write``). Plain forms that work without script, an error summary
linking to each input, phone width first. Holds, releases, corrections and imports go
through the API (``/api/v1/{tenant}/lots``) for now.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from vaxport.core.errors import Problem, ValidationFailed, from_validation
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor, CurrentActor, PathTenant
from vaxport.immunization import service as immunization
from vaxport.tenancy.service import TenantInfo
from vaxport.web.problems import FormError, field_errors
from vaxport.web.staff_common import errors_of, page

router = APIRouter(include_in_schema=False)
LOTS = "/{tenant}/staff/lots"
READ = requires("lots:read")
WRITE = requires("lots:write")
FIELDS = ("product_id", "lot_number", "manufacturer", "expires_on", "doses_per_vial")
MAX_VALUE = 200


def _products(tenant: TenantInfo) -> list[tuple[str, str]]:
    return [(p.id, p.name) for p in tenant.config.vaccines if p.active]


@router.api_route(LOTS, methods=["GET", "HEAD"], dependencies=[READ])
async def lots_list(
    tenant: PathTenant, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """The lots, newest first, with their expiry, hold and flag."""
    cursor = request.query_params.get("cursor") or None
    try:
        query = immunization.LotListQuery(cursor=cursor[:128] if cursor else None, limit=100)
        found = await immunization.list_lots(db=ctx.db, tenant=tenant, actor=actor, query=query)
    except ValidationFailed:  # a cursor from another list, or edited
        return RedirectResponse(f"/{tenant.code}/staff/lots", status_code=303)
    return page(
        request,
        tenant,
        "staff/lots.html",
        nav_current="lots",
        lots=found.items,
        next_cursor=found.next_cursor,
        product_names={p.id: p.name for p in tenant.config.vaccines},
        may_register=actor.has("lots:write"),
        done=request.query_params.get("done") == "registered",
    )


def _form_page(
    request: Request,
    tenant: TenantInfo,
    form: dict[str, Any],
    *,
    status: int = 200,
    errors: list[FormError] | None = None,
) -> Response:
    return page(
        request,
        tenant,
        "staff/lot_form.html",
        status=status,
        errors=errors,
        nav_current="lots",
        form=form,
        products=_products(tenant),
    )


@router.api_route(LOTS + "/new", methods=["GET", "HEAD"], dependencies=[WRITE])
async def new_lot_form(tenant: PathTenant, actor: CurrentActor, request: Request) -> Response:
    """The registration form."""
    return _form_page(request, tenant, {})


async def _read(request: Request) -> dict[str, str]:
    submitted = await request.form()
    form: dict[str, str] = {}
    for name in FIELDS:
        value = submitted.get(name)
        form[name] = value.strip()[:MAX_VALUE] if isinstance(value, str) else ""
    return form


def _problems(exc: Problem | ValidationError) -> list[FormError]:
    if isinstance(exc, ValidationError):
        exc = ValidationFailed(N_("the form has problems"), errors=from_validation(exc.errors()))
    if not exc.errors:
        return errors_of(exc)
    return field_errors(exc)


async def _register(ctx: Ctx, tenant: TenantInfo, actor: Actor, form: dict[str, str]) -> None:
    body = immunization.LotIn.model_validate({k: v for k, v in form.items() if v})
    await immunization.create_lot(db=ctx.db, tenant=tenant, actor=actor, body=body, source="page")


@router.post(LOTS + "/new", dependencies=[WRITE])
async def new_lot_submit(
    tenant: PathTenant, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """Register; back to the list, which says so."""
    form = await _read(request)
    try:
        await _register(ctx, tenant, actor, form)
    except (Problem, ValidationError) as exc:
        status = exc.status if isinstance(exc, Problem) else 422
        if status >= 500:
            raise
        return _form_page(request, tenant, form, status=status, errors=_problems(exc))
    return RedirectResponse(f"/{tenant.code}/staff/lots?done=registered", status_code=303)
