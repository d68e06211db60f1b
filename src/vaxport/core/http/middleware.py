"""Pure ASGI middleware for the production stack.

Starlette's ``BaseHTTPMiddleware`` costs a task and a stream per request; these wrap
``send`` instead, and only where they must. Order (outermost first): request id,
logging context, metrics and security headers (one layer), then the body size limit.
Rate limits are added by their own module.
"""

from __future__ import annotations

import os
import random
import re
import time
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote_plus

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vaxport.core.errors import (
    PROBLEM_JSON,
    BadRequest,
    PayloadTooLarge,
    Problem,
    ValidationFailed,
    from_validation,
)
from vaxport.core.i18n import N_
from vaxport.core.logging import request_id_var
from vaxport.core.metrics import HTTP

if TYPE_CHECKING:
    from vaxport.core.http.route_policy import RouteTable
    from vaxport.core.http.security_headers import SecurityHeaders

_RID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def holds_nul(scope: Scope) -> bool:
    """Whether the address (path or query) carries a NUL: no route of ours means one, and
    PostgreSQL text refuses it (a 500 where it reached a query)."""
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope["path"] or b"%00" in query or b"\x00" in query


_FORM = b"application/x-www-form-urlencoded"


def form_nul_guard(scope: Scope, receive: Receive) -> Receive:
    """``receive``, refusing a URL-encoded form body that holds a NUL (encoded or raw)
    with a 422 naming the field, as JSON bodies are (``core.http.json_body``).

    Pages read their forms in many places (Starlette's parser, FastAPI's ``Form``); the
    bytes are checked here as they arrive instead, without buffering the body: only the
    part after the last ``&`` is kept, to name the field and to find a ``%00`` split
    across two chunks. The error is raised from the read, where the route's handler
    answers it like any other refusal. Other bodies pass untouched (a NUL may be real
    data in an upload; JSON is checked when parsed).
    """
    if scope["method"] in ("GET", "HEAD", "OPTIONS"):
        return receive
    for key, value in scope["headers"]:
        if key == b"content-type":
            if not value.lower().startswith(_FORM):
                return receive
            break
    else:
        return receive
    pending = b""

    async def guarded() -> Message:
        nonlocal pending
        message = await receive()
        chunk = message.get("body", b"")
        if not chunk:
            return message
        seen = pending + chunk
        if b"%00" in seen or b"\x00" in seen:
            raise _form_nul(seen)
        cut = seen.rfind(b"&")
        pending = seen[cut + 1 :] if cut >= 0 else seen
        if len(pending) > 300:  # a long value: its name and end are all still needed
            eq = pending.find(b"=", 0, 256)
            pending = (pending[: eq + 1] if eq >= 0 else b"") + pending[-2:]
        return message

    return guarded


# Problem.headers is a dict, HTTPException's a Mapping: the same dict serves both.
class FormNul(ValidationFailed, HTTPException):  # type: ignore[misc]
    """The 422 of :func:`form_nul_guard`. An ``HTTPException`` too: FastAPI's form reading
    lets those through and turns anything else raised while reading into a bare 400;
    answered as the problem it is (the handlers look up the classes in order)."""

    def __init__(self, field: str) -> None:
        error = {"type": "string_nul", "loc": (field,), "msg": "a form field holds a NUL"}
        ValidationFailed.__init__(self, errors=from_validation([error]))
        self.status_code = self.status


def _form_nul(seen: bytes) -> FormNul:
    at = seen.find(b"%00") if b"%00" in seen else seen.find(b"\x00")
    pair = seen[seen.rfind(b"&", 0, at) + 1 : at]
    name, sep, _ = pair.partition(b"=")
    field = unquote_plus(name.decode("latin-1")) if sep else ""
    return FormNul(field or "form")


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


# Request ids are random UUIDv4s, drawn from a per-process generator seeded by the OS
# (and reseeded in a forked child, which would otherwise repeat its parent's ids):
# uuid.uuid4() costs a syscall and str(UUID) more than this whole layer. They need to be
# unique (122 random bits), not secret, and reveal nothing about traffic volume.
_rid_random = random.Random(os.urandom(32))  # noqa: S311 - ids, not secrets
_rid_bits = _rid_random.getrandbits
os.register_at_fork(after_in_child=lambda: _rid_random.seed(os.urandom(32)))


def new_request_id() -> str:
    """A fresh request id (a UUIDv4 string)."""
    r = _rid_bits(128)
    h = f"{r:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[r & 3]}{h[17:20]}-{h[20:]}"


class Probe(Protocol):
    """Something told of every request's start and end (bench mode's round-trip count)."""

    def begin(self, scope: Scope) -> Any: ...

    def end(self, scope: Scope, begun: Any, status: int) -> None: ...


class RequestMiddleware:
    """Request id, logging context, metrics and security headers: the outermost layer.

    Every request gets an id (a sane incoming ``X-Request-ID`` is kept), carried in the
    logging context and echoed in the answer. Requests are counted and timed by route
    *template* (bounded cardinality). With ``security``, every answer also gets the
    security headers (``core/http/security_headers.py``). One layer instead of three:
    each layer costs a coroutine and a ``send`` wrapper per message. ``probe`` is told of
    every request's start and end (bench mode counts round trips so). An address holding
    a NUL is answered 400 here (:func:`holds_nul`), a form body holding one 422
    (:func:`form_nul_guard`).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        security: SecurityHeaders | None = None,
        probe: Probe | None = None,
    ) -> None:
        self.app = app
        self.security = security
        self.probe = probe

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
        security = self.security
        override, private = security.for_path(scope["path"]) if security else (None, False)

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), header]
                if security is not None:
                    headers = security.add(
                        headers, override, scheme=scope.get("scheme"), private=private
                    )
                message["headers"] = headers
            await send(message)

        probe = self.probe
        begun = probe.begin(scope) if probe is not None else None
        try:
            if holds_nul(scope):
                await send_problem(
                    send_with_id, BadRequest(N_("the address holds a NUL character"))
                )
            else:
                await self.app(scope, form_nul_guard(scope, receive), send_with_id)
        finally:
            if probe is not None:
                probe.end(scope, begun, status)
            request_id_var.reset(token)
            route: Any = scope.get("route")
            HTTP.observe(
                getattr(route, "path", None) or "<unmatched>",
                scope["method"],
                status,
                time.perf_counter() - start,
            )


class BodyLimitMiddleware:
    """Refuses bodies over the limit with 413, by Content-Length or while streaming.

    With ``routes`` (a :class:`~vaxport.core.http.route_policy.RouteTable`) the ceiling is the
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
