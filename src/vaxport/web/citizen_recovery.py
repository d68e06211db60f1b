"""The page behind the undo link an account's old phone and e-mail receive after a
recovery: it asks to confirm (a link scanner's GET must not undo anything), then undoes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from vaxport.core.errors import Problem
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.identity import service as identity
from vaxport.identity.service import PathTenant, client_ip
from vaxport.web.staff_auth import CSRF
from vaxport.web.staff_common import errors_of, page

router = APIRouter(include_in_schema=False)
UNDO = "/{tenant}/recover/undo"
TEMPLATE = "citizen/recover_undo.html"


@router.api_route(UNDO, methods=["GET", "HEAD"], dependencies=[requires("pages:read", public=True)])
async def undo_form(tenant: PathTenant, request: Request, code: str = "") -> Response:
    """Confirm the undo (the code from the link in a field)."""
    return page(request, tenant, TEMPLATE, code=code[:40], done=False)


@router.post(UNDO, dependencies=[requires("auth:recover", public=True, rate="login"), CSRF])
async def undo_submit(
    *,
    tenant: PathTenant,
    ctx: Ctx,
    request: Request,
    code: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Undo the recovery: the old phone is back, every session has ended."""
    try:
        await identity.undo_recovery(
            db=ctx.db,
            cache=ctx.cache,
            settings=ctx.settings,
            tenant=tenant,
            code=code,
            client_ip=client_ip(request),
        )
    except Problem as exc:
        if exc.status >= 500:
            raise
        return page(
            request,
            tenant,
            TEMPLATE,
            status=exc.status,
            errors=errors_of(exc),
            code=code,
            done=False,
        )
    return page(request, tenant, TEMPLATE, code="", done=True)
