"""Pure ASGI middleware for the production stack.

Starlette's ``BaseHTTPMiddleware`` costs a task and a stream per request; these wrap
``send`` instead. Order (outermost first): request id + logging context, metrics, body
size limit. Security headers and rate limits are added by their own modules.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vaxport.core.errors import PROBLEM_JSON, PayloadTooLarge, Problem
from vaxport.core.ids import uuid7
from vaxport.core.logging import request_id_var
from vaxport.core.metrics import HTTP_LATENCY, HTTP_REQUESTS

if TYPE_CHECKING:
    from vaxport.core.route_policy import RouteTable

_RID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


async def send_problem(send: Send, problem: Problem, *, path: str | None = None) -> None:
    """Write a problem+json answer straight to an ASGI ``send``."""
    body = orjson.dumps(problem.to_dict(path))
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    headers += [(k.lower().encode(), v.encode()) for k, v in problem.headers.items()]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestIdMiddleware:
    """Gives every request an id (a sane incoming ``X-Request-ID`` is kept) and echoes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                candidate = value.decode("latin-1")
                if _RID_OK.match(candidate):
                    rid = candidate
                break
        rid = rid or str(uuid7())
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)
        header = (b"x-request-id", rid.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


class MetricsMiddleware:
    """Counts requests and observes latency by route *template* (bounded cardinality)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            method = scope["method"]
            HTTP_REQUESTS.labels(template, method, str(status)).inc()
            HTTP_LATENCY.labels(template, method).observe(time.perf_counter() - start)


class BodyLimitMiddleware:
    """Refuses bodies over the limit with 413, by Content-Length or while streaming.

    With ``routes`` (a :class:`~vaxport.core.route_policy.RouteTable`) the ceiling is the
    matched route's: uploads (``requires(..., upload=True)``) get more than JSON.
    ``limits`` maps a path prefix to its own ceiling instead, for apps without a table.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        default: int,
        limits: dict[str, int] | None = None,
        routes: RouteTable | None = None,
    ):
        self.app = app
        self.default = default
        self.limits = sorted((limits or {}).items(), key=lambda kv: -len(kv[0]))
        self.routes = routes

    def _limit_for(self, scope: Scope) -> int:
        if self.routes is not None:
            return self.routes.policy(scope).body_limit
        path = scope["path"]
        for prefix, limit in self.limits:
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope)
        for key, value in scope["headers"]:
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = limit + 1
                if declared > limit or declared < 0:
                    await send_problem(send, _too_large(limit), path=scope["path"])
                    return
                break
        received = 0
        exceeded = False
        replaced = False

        async def send_tracking(message: Message) -> None:
            # Whatever the app answers once the limit is crossed (a framework may turn
            # the aborted read into a 400), the client gets the 413 that explains it.
            nonlocal replaced
            if exceeded:
                if not replaced:
                    replaced = True
                    await send_problem(send, _too_large(limit), path=scope["path"])
                return
            await send(message)

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send_tracking)
        except _BodyTooLarge:
            if not replaced:
                await send_problem(send, _too_large(limit), path=scope["path"])


class _BodyTooLarge(Exception):  # noqa: N818 - internal control flow signal
    pass


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body exceeds {limit} bytes", limit_bytes=limit)
