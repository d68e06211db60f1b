"""A per-process memo of public answers, for a fraction of a second (pure ASGI).

The public reads a surge hammers (a tenant's configuration, the facility directory) are
already cached as serialised documents; what each request still pays is routing,
FastAPI's parameter parsing and validation, and the handler. An answer the app itself
marks ``Cache-Control: public`` may be kept by any cache on the way for its ``max-age``;
when its route also calls :func:`keep_answer`, this layer keeps it in the process for at
most ``seconds`` (0.5) and answers the same request from memory, with its entity tag
(``If-None-Match`` gets a 304). Opt-in: a route whose data changes without the process
calling :meth:`Cache.changed` (e.g. signing keys) must not.

What it never does: keep an answer to a request carrying credentials (``Authorization``,
``Cookie``), anything but a 200 with a ``public`` Cache-Control and a single body, an
answer that varies on a header other than ``Accept-Language``/``Accept-Encoding`` (both
are part of the key), or a request other than GET. It sits inside the rate limits (a
memo hit still counts) and outside everything else; every answer still gets its request
id and security headers from the outer layer. Whenever this process changes what a
public answer shows, it calls :meth:`Cache.changed` (a shared-cache ``delete`` does too)
and every kept answer is dropped: the writer sees its change at once, other processes
within ``seconds`` plus their own near bound.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vaxport.core.cache import Cache
from vaxport.core.http.conditional import etag_matches

SECONDS = 0.5
_KEEP = "vaxport.keep_answer"
_MAX = 2048
_CREDENTIALS = frozenset({b"authorization", b"cookie"})
_KEYED = (b"accept-language", b"accept-encoding")
_VARY_OK = frozenset({"accept-language", "accept-encoding"})
# Headers a 304 must not carry (RFC 9110 15.4.5: it has no content).
_CONTENT = frozenset({b"content-length", b"content-type"})

Key = tuple[str, bytes, bytes, bytes]


def keep_answer(request: Request) -> None:
    """Let this request's answer be kept (if it is public; see the module docstring)."""
    request.scope.setdefault("state", {})[_KEEP] = True


@dataclass(frozen=True, slots=True)
class _Answer:
    headers: list[tuple[bytes, bytes]]
    body: bytes
    etag: str | None
    route: Any  # what routing put in the scope: metrics name the route on a replay
    expires: float
    changes: int  # the cache's ``changes`` when the answer was made


def _keepable(headers: list[tuple[bytes, bytes]]) -> tuple[bool, str | None]:
    public = False
    etag = None
    for k, v in headers:
        name = k.lower()
        if name == b"cache-control":
            text = v.decode("latin-1").lower()
            directives = {d.strip().split("=", 1)[0] for d in text.split(",")}
            public = "public" in directives and not directives & {"no-store", "private"}
        elif name == b"vary":
            if any(p.strip().lower() not in _VARY_OK for p in v.decode("latin-1").split(",")):
                return False, None
        elif name == b"etag":
            etag = v.decode("latin-1")
        elif name == b"set-cookie":
            return False, None
    return public, etag


class AnswerMemoMiddleware:
    """See the module docstring."""

    def __init__(self, app: ASGIApp, *, cache: Cache, seconds: float = SECONDS) -> None:
        self.app = app
        self.cache = cache
        self.seconds = seconds
        self._answers: dict[Key, _Answer] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        keyed = [b"", b""]
        if_none_match = None
        for k, v in scope["headers"]:
            if k in _CREDENTIALS:
                await self.app(scope, receive, send)
                return
            if k == b"accept-language":
                keyed[0] = v
            elif k == b"accept-encoding":
                keyed[1] = v
            elif k == b"if-none-match":
                if_none_match = v.decode("latin-1")
        key: Key = (scope["path"], scope.get("query_string", b""), keyed[0], keyed[1])
        answer = self._answers.get(key)
        if answer is not None:
            if answer.expires > time.monotonic() and answer.changes == self.cache.changes:
                await self._replay(scope, send, answer, if_none_match)
                return
            del self._answers[key]
        await self._record(scope, receive, send, key)

    async def _replay(
        self, scope: Scope, send: Send, answer: _Answer, if_none_match: str | None
    ) -> None:
        if answer.route is not None:
            scope["route"] = answer.route  # metrics name the route, as routing would
        if answer.etag is not None and etag_matches(if_none_match, answer.etag):
            headers = [(k, v) for k, v in answer.headers if k.lower() not in _CONTENT]
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": answer.headers})
        await send({"type": "http.response.body", "body": answer.body})

    async def _record(self, scope: Scope, receive: Receive, send: Send, key: Key) -> None:
        changes = self.cache.changes
        start: Message | None = None

        async def send_recording(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message if message["status"] == 200 else None
                if start is not None:
                    # Copied now: layers further out append their own headers to the list.
                    start = {**message, "headers": list(message.get("headers", ()))}
            elif start is not None and message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    self._keep(key, scope, start, bytes(message.get("body", b"")), changes)
                start = None
            await send(message)

        await self.app(scope, receive, send_recording)

    def _keep(self, key: Key, scope: Scope, start: Message, body: bytes, changes: int) -> None:
        headers: list[tuple[bytes, bytes]] = start["headers"]
        if not (scope.get("state") or {}).get(_KEEP):
            return
        public, etag = _keepable(headers)
        if not public or changes != self.cache.changes:
            return
        if len(self._answers) >= _MAX:
            self._answers.clear()
        expires = time.monotonic() + self.seconds
        self._answers[key] = _Answer(headers, body, etag, scope.get("route"), expires, changes)
