"""Pure ASGI middleware for the production stack.

Starlette's ``BaseHTTPMiddleware`` costs a task and a stream per request; these wrap
``send`` instead, and only where they must. Order (outermost first): request id,
logging context and metrics (one layer), then the body size limit. Security headers
and rate limits are added by their own modules.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vaxport.core.errors import PROBLEM_JSON, PayloadTooLarge, Problem
from vaxport.core.logging import request_id_var
from vaxport.core.metrics import HTTP_LATENCY, HTTP_REQUESTS

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


# Request ids are UUIDv7-shaped (36 characters, time-ordered): a millisecond clock, 28
# random bits fixed per process and a 48-bit counter from a random start. Unique within
# a process by construction and across processes by chance (a collision would need the
# same millisecond, the same 28 random bits and overlapping counters); no syscall per
# request, unlike uuid4/uuid7, whose ``str()`` alone costs more than this whole layer.
_RID_RANDOM = os.urandom(8).hex()
_RID_MIDDLE = f"7{_RID_RANDOM[:3]}-{'89ab'[int(_RID_RANDOM[3], 16) & 3]}{_RID_RANDOM[4:7]}"
_rid_counter = itertools.count(int.from_bytes(os.urandom(6), "big"))


def new_request_id() -> str:
    """A fresh request id (see above)."""
    ms = f"{time.time_ns() // 1_000_000 & 0xFFFFFFFFFFFF:012x}"
    return f"{ms[:8]}-{ms[8:]}-{_RID_MIDDLE}-{next(_rid_counter) & 0xFFFFFFFFFFFF:012x}"


class RequestMiddleware:
    """Request id, logging context and metrics: the outermost layer, in one wrapper.

    Every request gets an id (a sane incoming ``X-Request-ID`` is kept), carried in the
    logging context and echoed in the answer. Requests are counted and timed by route
    *template* (bounded cardinality); the labelled metric children are looked up once
    per (route, method[, status]) and kept, as ``Metric.labels()`` validates and locks
    on every call. One layer instead of two: each layer costs a coroutine and a ``send``
    wrapper per message.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._latencies: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        rid = None
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                candidate = value.decode("latin-1")
                if _RID_OK.match(candidate):
                    rid = candidate
                break
        rid = rid or new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)
        header = (b"x-request-id", rid.encode())
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
            self._observe(scope, status, time.perf_counter() - start)

    def _observe(self, scope: Scope, status: int, elapsed: float) -> None:
        route: Any = scope.get("route")
        template = getattr(route, "path", None) or "<unmatched>"
        method = scope["method"]
        counter = self._counters.get((template, method, status))
        if counter is None:
            counter = HTTP_REQUESTS.labels(template, method, str(status))
            self._counters[(template, method, status)] = counter
        latency = self._latencies.get((template, method))
        if latency is None:
            latency = HTTP_LATENCY.labels(template, method)
            self._latencies[(template, method)] = latency
        counter.inc()
        latency.observe(elapsed)


class BodyLimitMiddleware:
    """Refuses bodies over the limit with 413, by Content-Length or while streaming.

    ``limits`` maps a path prefix to its own ceiling (uploads get more than JSON).
    """

    def __init__(self, app: ASGIApp, *, default: int, limits: dict[str, int] | None = None):
        self.app = app
        self.default = default
        self.limits = sorted((limits or {}).items(), key=lambda kv: -len(kv[0]))

    def _limit_for(self, path: str) -> int:
        for prefix, limit in self.limits:
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope["path"])
        for key, value in scope["headers"]:
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = limit + 1
                if declared > limit or declared < 0:
                    await send_problem(send, _too_large(limit), path=scope["path"])
                    return
                # The server delimits the body by this header (httptools and h11 never
                # deliver more), so a declared length within the limit needs no counting.
                await self.app(scope, receive, send)
                return
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
