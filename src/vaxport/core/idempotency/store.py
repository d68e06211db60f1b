"""The ``idempotency_keys`` table: claims and sealed answers, one tenant's rows at a time.

Every row carries ``tenant_id`` and is read and written inside that tenant's scope, so
PostgreSQL row-level security admits only the path tenant's rows (the app role never
sees another tenant's stored answers). A kept answer body is never stored in clear: it
is sealed under the data key of the person it concerns (``person_answer``, keyed by
``subject_id``: erasing the person destroys the key and clears the column) or, for
answers about no one person, under the tenant's data key (``answer``). Both are declared
encrypted fields, so key rotation re-encrypts them and crypto-shredding clears them like
any other personal field.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    CheckConstraint,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    delete,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, mapped_column

from vaxport.core.clock import utcnow
from vaxport.core.crypto import DataKey, encrypted
from vaxport.core.crypto.direct import open_bytes, seal_bytes
from vaxport.core.db import Base, Database, JSONDoc
from vaxport.core.ids import uuid7

IN_PROGRESS = "in_progress"
DONE = "done"
# Finished, but its answer carried a secret and was not kept: the row remembers only
# which request used the key, so a retry of it runs again and another request is a 422.
UNKEPT = "unkept"
PURGE_BATCH = 1000


class IdempotencyKey(Base):
    """One caller's key in one tenant and, once the request finished, the answer it got.

    ``scope`` is a hash of the caller and the tenant path segment (no address or token is
    stored). ``withheld`` names the answer's fields left out because they were secrets.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("scope", "key"),
        CheckConstraint("state IN ('in_progress', 'done', 'unkept')", name="state"),
        Index("ix_idempotency_keys_expires_at", "expires_at"),
        # Erasure clears a person's stored answers by (tenant, subject).
        Index("ix_idempotency_keys_tenant_id_subject_id", "tenant_id", "subject_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_content_type: Mapped[str | None] = mapped_column(String(255))
    response_headers: Mapped[list[list[str]] | None] = mapped_column(JSONDoc)
    subject_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    withheld: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()

    answer = encrypted("text")
    person_answer = encrypted("text", subject="subject_id")


T = cast(Table, IdempotencyKey.__table__)


@dataclass(frozen=True, slots=True)
class Stored:
    """A claim or a kept answer as the middleware sees it (the body still sealed)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    created_at: dt.datetime
    expires_at: dt.datetime
    fingerprint: str
    state: str
    status: int | None
    content_type: str | None
    headers: list[list[str]] | None
    subject_id: uuid.UUID | None
    withheld: str | None
    sealed: bytes | None


async def lookup(session: AsyncSession, where: str, key: str) -> Stored | None:
    """The row of (scope, key) in the session's tenant, if any."""
    row = (
        await session.execute(
            select(
                T.c.id,
                T.c.tenant_id,
                T.c.created_at,
                T.c.expires_at,
                T.c.fingerprint,
                T.c.state,
                T.c.response_status,
                T.c.response_content_type,
                T.c.response_headers,
                T.c.subject_id,
                T.c.withheld,
                T.c.answer_enc,
                T.c.person_answer_enc,
            ).where(T.c.scope == where, T.c.key == key)
        )
    ).one_or_none()
    if row is None:
        return None
    return Stored(
        id=row.id,
        tenant_id=row.tenant_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        fingerprint=row.fingerprint,
        state=row.state,
        status=row.response_status,
        content_type=row.response_content_type,
        headers=row.response_headers,
        subject_id=row.subject_id,
        withheld=row.withheld,
        sealed=row.person_answer_enc if row.subject_id is not None else row.answer_enc,
    )


async def insert_claim(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    where: str,
    key: str,
    fp: str,
    now: dt.datetime,
    expires_at: dt.datetime,
) -> uuid.UUID | None:
    """Claim (scope, key); the new row's id, or ``None`` when a row already holds it."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(T)
        .values(
            id=uuid7(),
            tenant_id=tenant_id,
            scope=where,
            key=key,
            fingerprint=fp,
            state=IN_PROGRESS,
            created_at=now,
            expires_at=expires_at,
        )
        .on_conflict_do_nothing(index_elements=[T.c.scope, T.c.key])
        .returning(T.c.id)
    )
    result: uuid.UUID | None = (await session.execute(stmt)).scalar_one_or_none()
    return result


async def delete_row(session: AsyncSession, row_id: uuid.UUID) -> None:
    """Delete one row by id (of two requests replacing a stale row, one deletes it)."""
    await session.execute(delete(T).where(T.c.id == row_id))


async def store_answer(
    db: Database,
    *,
    tenant_id: uuid.UUID,
    row_id: uuid.UUID,
    status: int,
    content_type: str | None,
    headers: list[list[str]] | None,
    body: bytes,
    subject_id: uuid.UUID | None,
    withheld: tuple[str, ...],
    expires_at: dt.datetime,
) -> None:
    """Seal ``body`` (under the person's key when there is one) and mark the row done.

    Raises :class:`~vaxport.core.crypto.SubjectKeyDestroyedError` when the person has
    no key any more (erased meanwhile): then nothing may be kept.
    """
    field = "person_answer" if subject_id is not None else "answer"

    def seal(s: Session) -> bytes:
        return seal_bytes(
            s,
            IdempotencyKey,
            field,
            tenant_id=tenant_id,
            row_id=row_id,
            plaintext=body,
            subject_id=subject_id,
        )

    async with db.transaction(tenant_id=tenant_id) as uow:
        sealed = await uow.session.run_sync(seal)
        # On the connection, not the session: the ORM refuses setting the subject column
        # of a row with ciphertexts, which is right for rows it loaded but not for a
        # claim that gets its subject and its first ciphertext in one statement.
        conn = await uow.session.connection()
        await conn.execute(
            update(T)
            .where(T.c.id == row_id)
            .values(
                state=DONE,
                response_status=status,
                response_content_type=content_type,
                response_headers=headers,
                subject_id=subject_id,
                withheld=",".join(withheld) or None,
                expires_at=expires_at,
                **{f"{field}_enc": sealed},
            )
        )


async def mark_unkept(
    db: Database, *, tenant_id: uuid.UUID, row_id: uuid.UUID, expires_at: dt.datetime
) -> None:
    """The request finished but nothing of its answer may rest here: keep the claim only."""
    async with db.transaction(tenant_id=tenant_id) as uow:
        await uow.session.execute(
            update(T).where(T.c.id == row_id).values(state=UNKEPT, expires_at=expires_at)
        )


async def open_answer(db: Database, stored: Stored) -> bytes | None:
    """The kept body in clear; ``None`` when it can no longer be read (person erased)."""
    from vaxport.core.crypto import CryptoError

    if stored.sealed is None:
        return None
    sealed = stored.sealed

    def open_(s: Session) -> bytes:
        field = "person_answer" if stored.subject_id is not None else "answer"
        return open_bytes(
            s,
            IdempotencyKey,
            field,
            tenant_id=stored.tenant_id,
            row_id=stored.id,
            blob=sealed,
            subject_id=stored.subject_id,
        )

    try:
        async with db.read(tenant_id=stored.tenant_id) as session:
            return await session.run_sync(open_)
    except CryptoError:
        return None


async def purge_expired(*, db: Database, now: dt.datetime | None = None) -> int:
    """Delete expired rows, tenant by tenant in small transactions; returns how many.

    Under row-level security a transaction sees one tenant's rows, so the purge walks
    the tenants that have data keys (every kept answer is sealed under one).
    """
    cutoff = now or utcnow()
    async with db.read() as session:
        tenants = list((await session.execute(select(DataKey.tenant_id).distinct())).scalars())
    total = 0
    for tenant_id in tenants:
        ids = (
            select(T.c.id)
            .where(T.c.tenant_id == tenant_id, T.c.expires_at < cutoff)
            .limit(PURGE_BATCH)
            .scalar_subquery()
        )
        stmt: Any = delete(T).where(T.c.id.in_(ids))
        while True:
            async with db.transaction(tenant_id=tenant_id) as uow:
                result: Any = await uow.session.execute(stmt)
            total += int(result.rowcount)
            if result.rowcount < PURGE_BATCH:
                break
    return total
