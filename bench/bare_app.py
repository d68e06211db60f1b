"""The floor the production stack is compared with: a bare Starlette app, no middleware.

Same server (uvicorn, same worker count and flags), same requests, same answer bytes as
``GET``/``POST /bench/noop`` of the production app; everything between is what our stack
costs. Neither handler reads the body: both are no-ops.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_BODY = b'{"ok":true}'


async def noop(_request: Request) -> Response:
    return Response(_BODY, media_type="application/json")


app = Starlette(routes=[Route("/bench/noop", noop, methods=["GET", "POST"])])
