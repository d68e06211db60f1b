"""HTTP routes of the notifications context: the development message viewer.

``GET /dev/messages`` shows what the console channel "sent" (login codes included), so
a person trying the demo can sign in. It exists only when ``VAXPORT_ENV=development``:
the router is not mounted otherwise, and the handler refuses anyway.
"""

from __future__ import annotations

import jinja2
from fastapi import APIRouter, Query
from starlette.responses import HTMLResponse

from vaxport.core.errors import NotFound
from vaxport.core.http import Ctx, requires
from vaxport.notifications import service

dev_router = APIRouter(tags=["development"], include_in_schema=False)

_PAGES = jinja2.Environment(
    loader=jinja2.PackageLoader("vaxport.notifications", "defaults"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


@dev_router.get("/dev/messages", dependencies=[requires("dev:messages", public=True)])
async def dev_messages(ctx: Ctx, limit: int = Query(50, ge=1, le=500)) -> HTMLResponse:
    """The console channel's latest messages (development only)."""
    if ctx.settings.env != "development":
        raise NotFound()
    messages = await service.list_console_messages(settings=ctx.settings, limit=limit)
    html = _PAGES.get_template("dev_messages.html").render(messages=messages, limit=limit)
    return HTMLResponse(
        html, headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}
    )
