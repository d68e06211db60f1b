"""The keyring: finds, creates and caches unwrapped data keys, index keys and subject keys.

It works on the caller's own transaction (a :class:`KeySession`: a sync ORM session, or a
unit of work's :class:`vaxport.core.db.TxKeys` when the use case has no ORM session), so
key rows are read and created inside it: a tenant's first key commits or rolls back
together with the first data encrypted under it, and SQLite never sees two writers
deadlock. A transaction's connection is asked for only when a key is not cached. Calls to the
key provider (network for KMS/Vault) run in a thread when we are inside SQLAlchemy's async
greenlet, so the event loop keeps serving.

Unwrapped keys live only in this process's memory, for at most ``key_cache_seconds`` and
at most ``key_cache_max_entries`` entries. Keys created by a transaction are kept on its
session until it ends and reach the process cache only by being read back once committed,
so a rolled-back key can never be cached.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar, cast

import sqlalchemy.util.concurrency as _sa_concurrency
from sqlalchemy import Connection, Engine, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from vaxport.core.clock import utcnow
from vaxport.core.crypto.envelope import (
    CLASS_TENANT,
    Header,
    open_sealed,
    parse_header,
    seal,
    subject_key_aad,
)
from vaxport.core.crypto.errors import CryptoError, KeyNotFoundError
from vaxport.core.crypto.models import (
    PURPOSE_DATA,
    STATE_ACTIVE,
    STATE_RETIRED,
    DataKey,
    SubjectKey,
)
from vaxport.core.crypto.providers import KEY_BYTES, KeyProvider, WrappedKey
from vaxport.core.ids import uuid7

T = TypeVar("T")
DK = cast(Table, DataKey.__table__)
SK = cast(Table, SubjectKey.__table__)
TX_KEYS = "vaxport.crypto.tx_keys"
DB_NAME = "vaxport.crypto.db"

# `await_` since SQLAlchemy 2.1 (`await_only` before): run a coroutine from sync code
# inside the greenlet that AsyncSession runs ORM work in.
_await: Callable[[Any], Any] = getattr(_sa_concurrency, "await_", None) or (
    _sa_concurrency.await_only
)
in_greenlet: Callable[[], bool] = getattr(_sa_concurrency, "in_greenlet", lambda: False)


def run_blocking(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking provider call; off the event loop when called from async SQLAlchemy."""
    if in_greenlet():
        result: T = _await(asyncio.to_thread(fn, *args))
        return result
    return fn(*args)


def key_context(tenant_id: uuid.UUID, purpose: str, version: int) -> dict[str, str]:
    """The provider encryption context of one data key."""
    return {
        "vaxport:tenant": str(tenant_id),
        "vaxport:purpose": purpose,
        "vaxport:version": str(version),
    }


_db_names: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def _db_name(conn: Connection | Engine) -> str:
    engine = conn.engine
    name = _db_names.get(engine)
    if name is None:
        name = engine.url.render_as_string(hide_password=True)
        _db_names[engine] = name
    return name


class KeySession(Protocol):
    """What the keyring needs of the caller's transaction: a dictionary that lives as long
    as it (the keys it created, kept there until it ends: ``TX_KEYS``), what the process
    cache keys on (its engine's database), and its connection, asked for only when a key
    is not cached (in SQLAlchemy's greenlet). A sync ORM :class:`Session` is one."""

    @property
    def info(self) -> dict[Any, Any]: ...

    def get_bind(self) -> Engine | Connection: ...

    def connection(self) -> Connection: ...


def _session_db(session: KeySession) -> str:
    """The cache namespace of the session's database (memoised on the session)."""
    name: str | None = session.info.get(DB_NAME)
    if name is None:
        name = session.info[DB_NAME] = _db_name(session.get_bind())
    return name


class Keyring:
    """Unwrapped keys for the ORM hooks, blind indexes and rotation jobs."""

    def __init__(
        self, provider: KeyProvider, *, cache_seconds: float = 300, max_entries: int = 100_000
    ) -> None:
        self.provider = provider
        self.cache_seconds = cache_seconds
        self.max_entries = max_entries
        self._cache: OrderedDict[tuple[Any, ...], tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ cache

    def _get(self, key: tuple[Any, ...]) -> Any:
        with self._lock:
            hit = self._cache.get(key)
            if hit is None:
                return None
            if hit[0] < time.monotonic():
                del self._cache[key]
                return None
            self._cache.move_to_end(key)
            return hit[1]

    def _put(self, key: tuple[Any, ...], value: Any) -> None:
        if self.cache_seconds <= 0:
            return
        with self._lock:
            self._cache[key] = (time.monotonic() + self.cache_seconds, value)
            self._cache.move_to_end(key)
            while len(self._cache) > self.max_entries:
                self._cache.popitem(last=False)

    def forget(self, tenant_id: uuid.UUID | None = None) -> None:
        """Drop cached keys (of one tenant, or all): used after rotation and erasure."""
        with self._lock:
            if tenant_id is None:
                self._cache.clear()
                return
            for k in [k for k in self._cache if len(k) > 2 and k[2] == tenant_id]:
                del self._cache[k]

    def peek(self, conn: Connection | Engine, ref: tuple[Any, ...]) -> bytes | None:
        """A cached key without touching the database (``None`` if not cached)."""
        value = self._get((_db_name(conn), *ref))
        return value if isinstance(value, bytes) else None

    @staticmethod
    def _tx(session: KeySession) -> dict[tuple[Any, ...], Any]:
        tx: dict[tuple[Any, ...], Any] = session.info.setdefault(TX_KEYS, {})
        return tx

    def _lookup(self, session: KeySession, key: tuple[Any, ...]) -> Any:
        tx = session.info.get(TX_KEYS)
        if tx and key in tx:
            return tx[key]
        return self._get(key)

    # ------------------------------------------------------------------ data / index keys

    def _unwrap_row(self, tenant_id: uuid.UUID, purpose: str, row: Any) -> bytes:
        if row.provider != self.provider.name:
            raise CryptoError(
                f"data key {purpose} v{row.version} of tenant {tenant_id} is wrapped by the "
                f"{row.provider!r} provider but {self.provider.name!r} is configured"
            )
        key = run_blocking(
            self.provider.unwrap,
            WrappedKey(bytes(row.wrapped_key), row.provider_key_id),
            key_context(tenant_id, purpose, row.version),
        )
        if len(key) != KEY_BYTES:
            raise CryptoError("unwrapped data key has the wrong length")
        return key

    def key(self, session: KeySession, tenant_id: uuid.UUID, purpose: str, version: int) -> bytes:
        """One version of a tenant key (any state: old rows still decrypt)."""
        ck = (_session_db(session), "key", tenant_id, purpose, version)
        hit = self._lookup(session, ck)
        if hit is not None:
            return bytes(hit)
        conn = session.connection()
        row = conn.execute(
            select(DK.c.version, DK.c.wrapped_key, DK.c.provider, DK.c.provider_key_id).where(
                DK.c.tenant_id == tenant_id, DK.c.purpose == purpose, DK.c.version == version
            )
        ).first()
        if row is None:
            raise KeyNotFoundError(f"tenant {tenant_id} has no {purpose} key version {version}")
        key = self._unwrap_row(tenant_id, purpose, row)
        self._put(ck, key)
        return key

    def active(
        self, session: KeySession, tenant_id: uuid.UUID, purpose: str, *, create: bool = True
    ) -> tuple[int, bytes] | None:
        """The version and key new values use; created (version 1) on first use."""
        ck = (_session_db(session), "active", tenant_id, purpose)
        version = self._lookup(session, ck)
        if version is None:
            version = (
                session.connection()
                .execute(
                    select(DK.c.version).where(
                        DK.c.tenant_id == tenant_id,
                        DK.c.purpose == purpose,
                        DK.c.state == STATE_ACTIVE,
                    )
                )
                .scalar()
            )
            if version is None:
                if not create:
                    return None
                return self._create_first(session, tenant_id, purpose)
            self._put(ck, version)
        return int(version), self.key(session, tenant_id, purpose, int(version))

    def live(
        self, session: KeySession, tenant_id: uuid.UUID, purpose: str
    ) -> list[tuple[int, bytes]]:
        """Every non-retired version (active first): what lookups must try during rotation."""
        ck = (_session_db(session), "live", tenant_id, purpose)
        versions = self._lookup(session, ck)
        if versions is None:
            rows = (
                session.connection()
                .execute(
                    select(DK.c.version, DK.c.state)
                    .where(
                        DK.c.tenant_id == tenant_id,
                        DK.c.purpose == purpose,
                        DK.c.state != STATE_RETIRED,
                    )
                    .order_by(DK.c.version.desc())
                )
                .all()
            )
            versions = [r.version for r in rows if r.state == STATE_ACTIVE] + [
                r.version for r in rows if r.state != STATE_ACTIVE
            ]
            # "No key yet" is not remembered (the first write creates one), and a list
            # holding a key this transaction created stays with it: it may roll back.
            tx = session.info.get(TX_KEYS) or {}
            if any((ck[0], "key", tenant_id, purpose, v) in tx for v in versions):
                self._tx(session)[ck] = versions
            elif versions:
                self._put(ck, versions)
        return [(v, self.key(session, tenant_id, purpose, v)) for v in versions]

    def _create_first(
        self, session: KeySession, tenant_id: uuid.UUID, purpose: str
    ) -> tuple[int, bytes] | None:
        conn = session.connection()
        exists = conn.execute(
            select(DK.c.version)
            .where(DK.c.tenant_id == tenant_id, DK.c.purpose == purpose)
            .limit(1)
        ).first()
        if exists is not None:
            # Usually a concurrent first use that committed after we looked for the active
            # key (READ COMMITTED: this statement sees it, the earlier one did not).
            again = self.active(session, tenant_id, purpose, create=False)
            if again is not None:
                return again
            raise CryptoError(f"tenant {tenant_id} has {purpose} keys but none is active")
        key, wrapped = run_blocking(self.provider.generate, key_context(tenant_id, purpose, 1))
        values = {
            "id": uuid7(),
            "tenant_id": tenant_id,
            "purpose": purpose,
            "version": 1,
            "wrapped_key": wrapped.blob,
            "provider": self.provider.name,
            "provider_key_id": wrapped.kek_id,
            "state": STATE_ACTIVE,
            "created_at": utcnow(),
        }
        stmt = _insert_ignore(conn, DK, values)
        if conn.execute(stmt).rowcount == 1:
            tx = self._tx(session)
            db = _db_name(conn)
            tx[(db, "active", tenant_id, purpose)] = 1
            tx[(db, "key", tenant_id, purpose, 1)] = key
            return 1, key
        # Another transaction created it first (we waited for it to commit): use theirs.
        return self.active(session, tenant_id, purpose, create=False)

    # ------------------------------------------------------------------ subject keys

    def subject_keys(
        self, session: KeySession, tenant_id: uuid.UUID, subject_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, bytes]:
        """Existing keys of several subjects (destroyed or never-created ones are absent)."""
        db = _session_db(session)
        found: dict[uuid.UUID, bytes] = {}
        missing: list[uuid.UUID] = []
        for sid in set(subject_ids):
            hit = self._lookup(session, (db, "subject", tenant_id, sid))
            if hit is not None:
                found[sid] = hit
            else:
                missing.append(sid)
        for i in range(0, len(missing), 500):
            chunk = missing[i : i + 500]
            rows = (
                session.connection()
                .execute(
                    select(SK.c.subject_id, SK.c.wrapped_key).where(
                        SK.c.tenant_id == tenant_id, SK.c.subject_id.in_(chunk)
                    )
                )
                .all()
            )
            for row in rows:
                key = self.open_subject_key(session, tenant_id, row.subject_id, row.wrapped_key)
                found[row.subject_id] = key
                self._put((db, "subject", tenant_id, row.subject_id), key)
        return found

    def open_subject_key(
        self, session: KeySession, tenant_id: uuid.UUID, subject_id: uuid.UUID, sealed: bytes
    ) -> bytes:
        """Unwrap a stored subject key with the tenant data key version its header names."""
        header = parse_header(sealed)
        if header.key_class != CLASS_TENANT:
            raise CryptoError("a subject key must be wrapped by a tenant data key")
        dk = self.key(session, tenant_id, PURPOSE_DATA, header.key_version)
        return open_sealed(dk, sealed, subject_key_aad(tenant_id=tenant_id, subject_id=subject_id))

    def adopt_subject_key(
        self, session: KeySession, tenant_id: uuid.UUID, subject_id: uuid.UUID, sealed: bytes
    ) -> bytes:
        """The subject's key from its stored (wrapped) form, read by the caller's own
        statement beside the subject's row; kept for the transaction and the process, as
        :meth:`subject_keys` keeps the keys it reads."""
        key = self.open_subject_key(session, tenant_id, subject_id, sealed)
        ck = (_session_db(session), "subject", tenant_id, subject_id)
        self._tx(session)[ck] = key
        self._put(ck, key)
        return key

    def seal_subject_key(
        self, session: KeySession, tenant_id: uuid.UUID, subject_id: uuid.UUID, key: bytes
    ) -> tuple[int, bytes]:
        """Wrap a subject key under the tenant's active data key."""
        active = self.active(session, tenant_id, PURPOSE_DATA)
        assert active is not None
        version, dk = active
        aad = subject_key_aad(tenant_id=tenant_id, subject_id=subject_id)
        return version, seal(dk, Header(CLASS_TENANT, version), key, aad)

    def subject_key(
        self,
        session: KeySession,
        tenant_id: uuid.UUID,
        subject_id: uuid.UUID,
        *,
        fresh: bool = False,
    ) -> bytes:
        """The subject's key, created (in the caller's transaction) if it has none yet.

        ``fresh``: the subject is most likely new (a row being inserted under its own new
        id), so the key is inserted at once instead of looked up first: one round trip
        instead of two. Still correct when it is not: the insert then does nothing and
        the existing key is read.
        """
        if fresh:
            hit = self._lookup(session, (_session_db(session), "subject", tenant_id, subject_id))
            if hit is not None:
                return bytes(hit)
        else:
            have = self.subject_keys(session, tenant_id, [subject_id])
            if subject_id in have:
                return have[subject_id]
        conn = session.connection()
        key = os.urandom(KEY_BYTES)
        version, sealed = self.seal_subject_key(session, tenant_id, subject_id, key)
        values = {
            "id": uuid7(),
            "tenant_id": tenant_id,
            "subject_id": subject_id,
            "wrapped_key": sealed,
            "data_key_version": version,
            "created_at": utcnow(),
        }
        if conn.execute(_insert_ignore(conn, SK, values)).rowcount == 1:
            self._tx(session)[(_db_name(conn), "subject", tenant_id, subject_id)] = key
            return key
        again = self.subject_keys(session, tenant_id, [subject_id])
        if subject_id not in again:
            raise CryptoError("subject key vanished while being created")
        return again[subject_id]

    def create_subject_keys(
        self, session: KeySession, tenant_id: uuid.UUID, subject_ids: Iterable[uuid.UUID]
    ) -> None:
        """Create keys for several new subjects in one statement (bulk inserts of people).

        The subjects must be new (fresh ids): one key each is inserted and kept on the
        transaction, so sealing their fields then needs no lookup per subject.
        """
        rows = self.new_subject_keys(session, tenant_id, subject_ids)
        if rows:
            session.connection().execute(SK.insert(), rows)

    def new_subject_keys(
        self, session: KeySession, tenant_id: uuid.UUID, subject_ids: Iterable[uuid.UUID]
    ) -> list[dict[str, Any]]:
        """Keys for new subjects, kept on the transaction; the ``subject_keys`` rows the
        caller must insert in it (see :meth:`create_subject_keys`)."""
        ids = list(subject_ids)
        if not ids:
            return []
        db = _session_db(session)
        tx = self._tx(session)
        now = utcnow()
        rows = []
        for sid in ids:
            key = os.urandom(KEY_BYTES)
            version, sealed = self.seal_subject_key(session, tenant_id, sid, key)
            rows.append(
                {
                    "id": uuid7(),
                    "tenant_id": tenant_id,
                    "subject_id": sid,
                    "wrapped_key": sealed,
                    "data_key_version": version,
                    "created_at": now,
                }
            )
            tx[(db, "subject", tenant_id, sid)] = key
        return rows

    def forget_subject(self, conn: Connection, tenant_id: uuid.UUID, subject_id: uuid.UUID) -> None:
        """Evict one subject's key from this process's cache."""
        with self._lock:
            self._cache.pop((_db_name(conn), "subject", tenant_id, subject_id), None)


def _insert_ignore(conn: Connection, table: Any, values: Mapping[str, Any]) -> Any:
    """INSERT that does nothing when a unique key already holds the row (both dialects)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).values(**values).on_conflict_do_nothing()
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table).values(**values).on_conflict_do_nothing()
    raise CryptoError(f"unsupported database dialect {conn.dialect.name}")
