"""``Idempotency-Key``: a retried state-changing request gets the first answer, changes nothing.

For POST/PUT/PATCH/DELETE carrying the header, the first request claims (caller scope,
key) with an ``in_progress`` row (the unique constraint settles concurrent duplicates),
runs, and stores its answer. A retry with the same request gets that answer again with
``Idempotent-Replayed: true``; the same key on a different request is a 422; a retry
while the first still runs is a 409. Answers that mean "did not run, try again" (5xx,
401, 403, 408, 425, 429) are not kept, so the retry runs; nor are answers marked
``Cache-Control: no-store`` (tokens, one-time links, recovery codes): they must never rest
in a table, so a retry of such a request runs again.

Expiry: a kept answer lives ``idempotency_ttl_hours`` (>= 24). Expired rows are deleted
in batches by the worker's housekeeping, and an expired row met on the request path is
replaced at once, so correctness never waits for the purge. An ``in_progress`` row older
than ``idempotency_lock_seconds`` is taken to be a crashed request and may be re-claimed.

Known limit: the answer is stored after the use case committed, in its own transaction;
a process that dies between the two leaves the key claimed until the lock lapses, after
which a retry runs the request again. Use cases that must be exactly-once under crashes
also dedupe on their own natural keys (booking per slot, client record UUIDs).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from dataclasses import dataclass

from sqlalchemy import (
    CheckConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    delete,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vaxport.core.clock import utcnow
from vaxport.core.db import Base, Database, JSONDoc, delete_in_batches
from vaxport.core.errors import Conflict, ValidationFailed, field_error
from vaxport.core.http.middleware import send_problem
from vaxport.core.ids import uuid7
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
IN_PROGRESS = "in_progress"
DONE = "done"
PURGE_BATCH = 1000


class IdempotencyKey(Base):
    """One caller's key and, once the request finished, the answer it got.

    No tenant_id column: a key is claimed before the tenant is resolved; the tenant path
    segment is part of ``scope`` (a hash) instead.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("scope", "key"),
        CheckConstraint("state IN ('in_progress', 'done')", name="state"),
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_content_type: Mapped[str | None] = mapped_column(String(255))
    response_headers: Mapped[list[list[str]] | None] = mapped_column(JSONDoc)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()


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


_Row = Row[
    uuid.UUID,
    dt.datetime,
    dt.datetime,
    str,
    str,
    int | None,
    str | None,
    list[list[str]] | None,
    bytes | None,
]


@dataclass(frozen=True, slots=True)
class _Stored:
    fingerprint: str
    state: str
    status: int | None
    content_type: str | None
    headers: list[list[str]] | None
    body: bytes | None


class IdempotencyMiddleware:
    """Pure ASGI; costs nothing for safe methods or requests without the header."""

    def __init__(self, app: ASGIApp, *, db: Database, settings: Settings) -> None:
        self.app = app
        self.db = db
        self.ttl = dt.timedelta(hours=settings.idempotency_ttl_hours)
        self.lock = dt.timedelta(seconds=settings.idempotency_lock_seconds)

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
                "give one Idempotency-Key"
                if len(values) > 1
                else "must be 1 to 255 printable ASCII characters"
            )
            await send_problem(send, _bad_key(reason), path=scope["path"])
            return
        body = await _read_body(receive)
        if body is None:  # the client went away before sending its body
            return
        fp = fingerprint(scope, body)
        claimed, stored = await self._claim(scope_hash(scope), key, fp)
        if claimed is not None:
            await self._run(claimed, scope, _replaying(body, receive), send)
        elif stored is not None and stored.fingerprint != fp:
            reason = "already used for a different request"
            await send_problem(send, _bad_key(reason), path=scope["path"])
        elif stored is None or stored.state == IN_PROGRESS:
            busy = Conflict(
                "a request with this Idempotency-Key is still being processed",
                headers={"Retry-After": "1"},
            )
            await send_problem(send, busy, path=scope["path"])
        else:
            await _replay(stored, send)

    async def _claim(
        self, where: str, key: str, fp: str
    ) -> tuple[uuid.UUID | None, _Stored | None]:
        """(our new row id, None) when we run the request, else (None, what is there)."""
        now = utcnow()
        # A retry finds its answer with a read: no write, no commit to flush to disk.
        async with self.db.read() as session:
            row = await _lookup(session, where, key)
        if row is not None and (stored := self._live(row, now)) is not None:
            return None, stored
        async with self.db.transaction() as uow:
            session = uow.session
            for _ in range(2):
                row_id = await _insert(
                    session, where=where, key=key, fp=fp, now=now, expires_at=now + self.ttl
                )
                if row_id is not None:
                    return row_id, None
                row = await _lookup(session, where, key)
                if row is None:  # deleted between our insert and select: try again
                    continue
                if (stored := self._live(row, now)) is not None:
                    return None, stored
                # By id: of two requests replacing the same stale row only one deletes it.
                await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row.id))
        return None, None

    def _live(self, row: _Row, now: dt.datetime) -> _Stored | None:
        """The row as a stored answer or claim, unless expired or left by a crashed request."""
        abandoned = row.state == IN_PROGRESS and row.created_at <= now - self.lock
        if row.expires_at <= now or abandoned:
            return None
        return _Stored(
            fingerprint=row.fingerprint,
            state=row.state,
            status=row.response_status,
            content_type=row.response_content_type,
            headers=row.response_headers,
            body=row.response_body,
        )

    async def _run(self, row_id: uuid.UUID, scope: Scope, receive: Receive, send: Send) -> None:
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
            await self._forget(row_id)
            raise
        if status is None or status >= 500 or status in _NOT_KEPT or no_store:
            await self._forget(row_id)
            return
        try:
            async with self.db.transaction() as uow:
                await uow.session.execute(
                    update(IdempotencyKey)
                    .where(IdempotencyKey.id == row_id)
                    .values(
                        state=DONE,
                        response_status=status,
                        response_content_type=content_type,
                        response_headers=kept or None,
                        response_body=b"".join(chunks),
                        expires_at=utcnow() + self.ttl,
                    )
                    .execution_options(synchronize_session=False)
                )
        except Exception as exc:  # noqa: BLE001 - the answer is sent; the key lapses with the lock
            log.error("idempotency.store_failed", error=type(exc).__name__)

    async def _forget(self, row_id: uuid.UUID) -> None:
        try:
            async with self.db.transaction() as uow:
                await uow.session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id))
        except Exception as exc:  # noqa: BLE001 - the key lapses with the lock instead
            log.error("idempotency.release_failed", error=type(exc).__name__)


def _bad_key(reason: str) -> ValidationFailed:
    return ValidationFailed(f"Idempotency-Key: {reason}", errors=[field_error(FIELD, reason)])


async def _lookup(session: AsyncSession, where: str, key: str) -> _Row | None:
    query = select(
        IdempotencyKey.id,
        IdempotencyKey.expires_at,
        IdempotencyKey.created_at,
        IdempotencyKey.fingerprint,
        IdempotencyKey.state,
        IdempotencyKey.response_status,
        IdempotencyKey.response_content_type,
        IdempotencyKey.response_headers,
        IdempotencyKey.response_body,
    ).where(IdempotencyKey.scope == where, IdempotencyKey.key == key)
    return (await session.execute(query)).one_or_none()


async def _insert(
    session: AsyncSession,
    *,
    where: str,
    key: str,
    fp: str,
    now: dt.datetime,
    expires_at: dt.datetime,
) -> uuid.UUID | None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(IdempotencyKey)
        .values(
            id=uuid7(),
            scope=where,
            key=key,
            fingerprint=fp,
            state=IN_PROGRESS,
            created_at=now,
            expires_at=expires_at,
        )
        .on_conflict_do_nothing(index_elements=[IdempotencyKey.scope, IdempotencyKey.key])
        .returning(IdempotencyKey.id)
    )
    result: uuid.UUID | None = (await session.execute(stmt)).scalar_one_or_none()
    return result


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


async def _replay(stored: _Stored, send: Send) -> None:
    body = stored.body or b""
    headers: list[tuple[bytes, bytes]] = [
        (b"content-length", str(len(body)).encode()),
        (b"idempotent-replayed", b"true"),
    ]
    if stored.content_type:
        headers.append((b"content-type", stored.content_type.encode("latin-1")))
    headers += [(n.encode(), v.encode("latin-1")) for n, v in stored.headers or ()]
    await send({"type": "http.response.start", "status": stored.status or 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def purge_expired(*, db: Database, now: dt.datetime | None = None) -> int:
    """Delete expired keys in small transactions; returns how many."""
    cutoff = now or utcnow()
    return await delete_in_batches(
        db, IdempotencyKey, IdempotencyKey.expires_at < cutoff, batch=PURGE_BATCH
    )
