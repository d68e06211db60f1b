"""The ``Idempotency-Key`` middleware: claim, run, keep the answer sealed, replay it gated.

For POST/PUT/PATCH/DELETE carrying the header on a tenant's path, the first request claims
(caller scope, key) with an ``in_progress`` row in that tenant (the unique constraint
settles concurrent duplicates), runs, and keeps its answer sealed (see ``store``). A retry
with the same request first passes the route's permission gate again (a caller who lost
the permission gets the gate's 401/403/404, never the stored answer), then gets the
answer with ``Idempotent-Replayed: true``; the same key on a different request is a 422;
a retry while the first still runs is a 409; a retry whose answer concerned a person
erased since is a 410. Answers that mean "did not run, try again" (5xx, 401, 403, 408,
425, 429) are not kept, so the retry runs; nor are answers the route itself marked
``Cache-Control: no-store`` (tokens, one-time links, recovery codes): they must never
rest in a table, so the row keeps only which request used the key (``unkept``): a retry
of that request runs again, and the key on a different request is still a 422. A route
whose answer carries a secret beside data the retry needs names the secret fields
instead (``withhold_from_replay``): the answer is kept without them and a replay says which
fields it withheld (``Idempotent-Withheld``), so the retry neither reruns the use case
nor sees the secret a second time.

Requests outside any tenant (``/api/v1/verify``, or a tenant code that does not exist)
are passed through without a key: nothing they answer is a tenant's to keep, and the
routes there are reads or refuse anyway.

Expiry: a kept answer lives ``idempotency_ttl_hours`` (>= 24). Expired rows are deleted
in batches by the worker's housekeeping, and an expired row met on the request path is
replaced at once, so correctness never waits for the purge. An ``in_progress`` row older
than ``idempotency_lock_seconds`` is taken to be a crashed request and may be re-claimed.

Routes marked ``claims_in_transaction`` (registrations) take the key themselves, in the
use case's own transaction, answer included (see ``claim``): one commit, and the key is
kept if and only if the act committed. Elsewhere, a known limit: the answer is stored
after the use case committed, in its own transaction; a process that dies between the
two leaves the key claimed until the lock lapses, after which a retry runs the request
again. Use cases that must be exactly-once under crashes also dedupe on their own
natural keys (booking per slot, client record UUIDs).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vaxport.core.clock import utcnow
from vaxport.core.crypto import CryptoError
from vaxport.core.db import Database
from vaxport.core.errors import Conflict, Gone, ValidationFailed, field_error
from vaxport.core.http.dependencies import iter_routes
from vaxport.core.http.middleware import send_problem
from vaxport.core.i18n import N_
from vaxport.core.idempotency import store
from vaxport.core.idempotency.claim import CLAIM, IN_TRANSACTION, Claim
from vaxport.core.idempotency.marks import replay_refused, subject_of, withheld_of
from vaxport.core.logging import get_logger
from vaxport.settings import Settings

log = get_logger(__name__)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HEADER = b"idempotency-key"
FIELD = "header.Idempotency-Key"
_KEY_OK = re.compile(r"^[\x20-\x7e]{1,255}$")
# "Did not run, try again" answers: kept, they would block the retry they invite.
_NOT_KEPT = frozenset({401, 403, 408, 425, 429})
# Replayed besides the body; an allow-list so cookies or per-request headers never are.
_KEPT_HEADERS = frozenset({b"location", b"etag", b"content-language"})
# (method, path) -> whether its route claims keys itself; cleared when this many.
_MAX_ROUTES_REMEMBERED = 4096

# The tenant id of a path's tenant code (None: no such tenant); given by the app.
TenantOf = Callable[[str], Awaitable[uuid.UUID | None]]


def caller_scope(scope: Scope) -> str:
    """Who is asking: the principal once identity set it, else the credentials, else the address.

    The one place that decides whose keys are whose; identity changes it here.
    """
    state = scope.get("state") or {}
    principal = state.get("principal_id")
    if principal:
        return f"principal:{principal}"
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return "auth:" + hashlib.sha256(value).hexdigest()
    client = scope.get("client")
    return f"addr:{client[0] if client else '-'}"


def tenant_segment(path: str) -> str:
    """The tenant code in ``/api/v1/{t}/...``, ``/fhir/{t}/...`` or ``/{t}/...`` ('' if none)."""
    parts = path.split("/")
    if path.startswith("/api/v1/"):
        return parts[3] if len(parts) > 4 else ""
    if path.startswith("/fhir/"):
        return parts[2] if len(parts) > 3 else ""
    return parts[1] if len(parts) > 2 else ""


def scope_hash(scope: Scope) -> str:
    """The stored key scope: caller and tenant, hashed (no address or token is stored)."""
    raw = f"{caller_scope(scope)}\n{tenant_segment(scope['path'])}"
    return hashlib.sha256(raw.encode()).hexdigest()


def fingerprint(scope: Scope, body: bytes) -> str:
    """What makes two requests the same request: method, path, query and body."""
    h = hashlib.sha256()
    for part in (scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b"")):
        h.update(part)
        h.update(b"\n")
    h.update(body)
    return h.hexdigest()


class IdempotencyMiddleware:
    """Pure ASGI; costs nothing for safe methods or requests without the header."""

    def __init__(
        self, app: ASGIApp, *, db: Database, settings: Settings, tenant_of: TenantOf
    ) -> None:
        self.app = app
        self.db = db
        self.tenant_of = tenant_of
        self.ttl = dt.timedelta(hours=settings.idempotency_ttl_hours)
        self.lock = dt.timedelta(seconds=settings.idempotency_lock_seconds)
        self._in_transaction: dict[tuple[str, str], bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        values = [v for k, v in scope["headers"] if k == HEADER]
        if not values:
            await self.app(scope, receive, send)
            return
        key = values[0].decode("latin-1")
        if len(values) > 1 or not _KEY_OK.match(key):
            reason = (
                N_("give one Idempotency-Key")
                if len(values) > 1
                else N_("must be 1 to 255 printable ASCII characters")
            )
            await send_problem(send, _bad_key(reason), path=scope["path"])
            return
        body = await _read_body(receive)
        if body is None:  # the client went away before sending its body
            return
        code = tenant_segment(scope["path"])
        tenant_id = await self.tenant_of(code) if code else None
        if tenant_id is None:
            await self.app(scope, _replaying(body, receive), send)
            return
        fp = fingerprint(scope, body)
        if self._claims_itself(scope):
            claim = Claim(tenant_id, scope_hash(scope), key, fp, self.ttl)
            await self._run_claimed(claim, scope, body, receive, send)
            return
        claimed, stored = await self._claim(tenant_id, scope_hash(scope), key, fp)
        if claimed is not None:
            await self._run(tenant_id, claimed, scope, _replaying(body, receive), send)
        else:
            await self._held(stored, fp, scope, _replaying(body, receive), send, gated=False)

    async def _held(
        self,
        stored: store.Stored | None,
        fp: str,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        gated: bool,
    ) -> None:
        """Answer a request whose key is held: 422 (another request), 409 (still running),
        or the kept answer (after the route's permission gate, unless ``gated`` already)."""
        if stored is not None and stored.fingerprint != fp:
            reason = N_("already used for a different request")
            await send_problem(send, _bad_key(reason), path=scope["path"])
        elif stored is None or stored.state == store.IN_PROGRESS:
            busy = Conflict(
                N_("a request with this Idempotency-Key is still being processed"),
                headers={"Retry-After": "1"},
            )
            await send_problem(send, busy, path=scope["path"])
        elif gated:
            await self._send_replay(stored, scope, send)
        else:
            await self._replay(stored, scope, receive, send)

    async def _claim(
        self, tenant_id: uuid.UUID, where: str, key: str, fp: str
    ) -> tuple[uuid.UUID | None, store.Stored | None]:
        """(our new row id, None) when we run the request, else (None, what is there)."""
        now = utcnow()
        # A retry finds its answer with a read: no write, no commit to flush to disk.
        async with self.db.read(tenant_id=tenant_id) as session:
            row = await store.lookup(session, where, key)
        if row is not None and self._stands(row, now, fp):
            return None, row
        async with self.db.transaction(tenant_id=tenant_id) as uow:
            session = uow.session
            for _ in range(3):
                row_id = await store.insert_claim(
                    session,
                    tenant_id=tenant_id,
                    where=where,
                    key=key,
                    fp=fp,
                    now=now,
                    expires_at=now + self.ttl,
                )
                if row_id is not None:
                    return row_id, None
                row = await store.lookup(session, where, key)
                if row is None:  # deleted between our insert and select: try again
                    continue
                if self._stands(row, now, fp):
                    return None, row
                await store.delete_row(session, row.id)
        return None, None

    def _stands(self, row: store.Stored, now: dt.datetime, fp: str) -> bool:
        """Whether the row answers this request: live, and not an unkept answer of this
        very request (whose retry runs again, taking the key anew)."""
        rerun = row.state == store.UNKEPT and row.fingerprint == fp
        return self._live(row, now) and not rerun

    def _claims_itself(self, scope: Scope) -> bool:
        """Whether the route of this request takes the key in its own transaction."""
        app: Any = scope.get("app")
        if app is None:
            return False
        where = (scope["method"], scope["path"])
        known = self._in_transaction.get(where)
        if known is None:
            known = False
            for _path, route, _deps in iter_routes(app.router.routes):
                if isinstance(route, Route) and route.matches(scope)[0] == Match.FULL:
                    known = getattr(route.endpoint, IN_TRANSACTION, False) is True
                    break
            if len(self._in_transaction) >= _MAX_ROUTES_REMEMBERED:
                self._in_transaction.clear()
            self._in_transaction[where] = known
        return known

    async def _run_claimed(
        self, claim: Claim, scope: Scope, body: bytes, receive: Receive, send: Send
    ) -> None:
        """Run a route that claims the key itself; answer as for a retry if it was held."""
        for _attempt in range(2):
            claim.taken = False
            scope.setdefault("state", {})[CLAIM] = claim

            async def unless_taken(message: Message) -> None:
                if not claim.taken:  # else the route's KeyTaken problem: answered below
                    await send(message)

            await self.app(scope, _replaying(body, receive), unless_taken)
            if not claim.taken:
                return
            stored = await self._stored(claim.tenant_id, claim.scope, claim.key)
            now = utcnow()
            if stored is not None and not self._stands(stored, now, claim.fingerprint):
                # Expired (or a crashed request's claim): replace it and run again.
                await self._forget(claim.tenant_id, stored.id)
                continue
            break
        else:
            stored = None
        # This request went through the route's permission gate before its use case met
        # the key: the gate a replay needs has been passed.
        await self._held(stored, claim.fingerprint, scope, receive, send, gated=True)

    async def _stored(self, tenant_id: uuid.UUID, where: str, key: str) -> store.Stored | None:
        async with self.db.read(tenant_id=tenant_id) as session:
            return await store.lookup(session, where, key)

    def _live(self, row: store.Stored, now: dt.datetime) -> bool:
        """Whether the row still stands: not expired, not left by a crashed request."""
        abandoned = row.state == store.IN_PROGRESS and row.created_at <= now - self.lock
        return not (row.expires_at <= now or abandoned)

    async def _run(
        self, tenant_id: uuid.UUID, row_id: uuid.UUID, scope: Scope, receive: Receive, send: Send
    ) -> None:
        status: int | None = None
        content_type: str | None = None
        no_store = False
        kept: list[list[str]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, content_type, no_store
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for name, value in message.get("headers", ()):
                    lname = bytes(name).lower()
                    if lname == b"cache-control" and b"no-store" in bytes(value).lower():
                        no_store = True
                    elif lname == b"content-type":
                        content_type = bytes(value).decode("latin-1")
                    elif lname in _KEPT_HEADERS:
                        kept.append([lname.decode(), bytes(value).decode("latin-1")])
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            await self._forget(tenant_id, row_id)
            raise
        withheld = withheld_of(scope)
        body: bytes | None = b"".join(chunks)
        if withheld and body is not None:
            body = _without(body, withheld)
        if status is None or status >= 500 or status in _NOT_KEPT or body is None:
            await self._forget(tenant_id, row_id)
            return
        if no_store and not withheld:
            # The act happened: the key stays bound to this request, its answer unkept.
            await store.mark_unkept(
                self.db, tenant_id=tenant_id, row_id=row_id, expires_at=utcnow() + self.ttl
            )
            return
        try:
            await store.store_answer(
                self.db,
                tenant_id=tenant_id,
                row_id=row_id,
                status=status,
                content_type=content_type,
                headers=kept or None,
                body=body,
                subject_id=subject_of(scope),
                withheld=withheld,
                expires_at=utcnow() + self.ttl,
            )
        except CryptoError:  # the person was erased meanwhile: keep nothing about them
            await self._forget(tenant_id, row_id)
        except Exception as exc:  # noqa: BLE001 - the answer is sent; the key lapses with the lock
            log.error("idempotency.store_failed", error=type(exc).__name__)

    async def _replay(
        self, stored: store.Stored, scope: Scope, receive: Receive, send: Send
    ) -> None:
        refused = await replay_refused(scope, receive)
        if refused is not None:
            await send_problem(send, refused, path=scope["path"])
            return
        await self._send_replay(stored, scope, send)

    async def _send_replay(self, stored: store.Stored, scope: Scope, send: Send) -> None:
        body = await store.open_answer(self.db, stored)
        if body is None:
            gone = Gone(N_("the first answer to this request concerned a person since erased"))
            await send_problem(send, gone, path=scope["path"])
            return
        headers: list[tuple[bytes, bytes]] = [
            (b"content-length", str(len(body)).encode()),
            (b"idempotent-replayed", b"true"),
        ]
        if stored.withheld:
            headers.append((b"idempotent-withheld", stored.withheld.encode()))
        if stored.content_type:
            headers.append((b"content-type", stored.content_type.encode("latin-1")))
        headers += [(n.encode(), v.encode("latin-1")) for n, v in stored.headers or ()]
        await send(
            {"type": "http.response.start", "status": stored.status or 200, "headers": headers}
        )
        await send({"type": "http.response.body", "body": body})

    async def _forget(self, tenant_id: uuid.UUID, row_id: uuid.UUID) -> None:
        try:
            async with self.db.transaction(tenant_id=tenant_id) as uow:
                await store.delete_row(uow.session, row_id)
        except Exception as exc:  # noqa: BLE001 - the key lapses with the lock instead
            log.error("idempotency.release_failed", error=type(exc).__name__)


def _bad_key(reason: str) -> ValidationFailed:
    return ValidationFailed(f"Idempotency-Key: {reason}", errors=[field_error(FIELD, reason)])


def _without(body: bytes, fields: tuple[str, ...]) -> bytes | None:
    """The JSON object ``body`` with ``fields`` set to null (``None``: not such an object)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    for name in fields:
        if name in doc:
            doc[name] = None
    return orjson.dumps(doc)


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
