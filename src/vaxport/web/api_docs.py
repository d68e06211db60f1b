"""``/api/docs``: Swagger UI served from this origin, so the docs work without internet.

The page is ours (no inline script: it passes the page CSP); Swagger UI's bundle and
stylesheet come from an installed package (see ``assets.VENDORED``) and our small
``js/api-docs.js`` starts it on ``/api/openapi.json``. Off where the OpenAPI document is
off (``VAXPORT_API_DOCS``, production by default).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from vaxport.core.errors import NotFound
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.i18n import N_, SOURCE_LOCALE
from vaxport.web.rendering import choose_locale, render

DOCS_PATH = "/api/docs"
OPENAPI_PATH = "/api/openapi.json"

router = APIRouter(include_in_schema=False)


@router.api_route(
    DOCS_PATH, methods=["GET", "HEAD"], dependencies=[requires("pages:read", public=True)]
)
async def api_docs(request: Request, ctx: Ctx) -> Response:
    """The interactive API reference."""
    if not ctx.settings.api_docs_enabled:
        raise NotFound(N_("the API documentation is turned off"))
    page = choose_locale(request, available=[SOURCE_LOCALE], default=SOURCE_LOCALE)
    return render(request, "api_docs.html", page, openapi_url=OPENAPI_PATH)
