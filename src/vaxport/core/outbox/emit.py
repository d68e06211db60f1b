"""Writing events: in the use case's own transaction, so they exist if and only if it commits."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from vaxport.core.clock import utcnow
from vaxport.core.db import UnitOfWork
from vaxport.core.ids import uuid7
from vaxport.core.outbox.handlers import check_event_type
from vaxport.core.outbox.models import PENDING, OutboxEvent

# Payloads carry ids and small facts; anything bigger is a sign of copied records.
MAX_PAYLOAD_BYTES = 16_384


def _normalise(payload: dict[str, Any]) -> dict[str, Any]:
    # Round-trip through JSON: UUIDs and datetimes become strings (what the handler will
    # read back), ORM objects and other non-JSON values fail here, in the caller's test.
    if not isinstance(payload, dict):
        raise TypeError("outbox payload must be a dict")
    raw = orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"outbox payload exceeds {MAX_PAYLOAD_BYTES} bytes; send ids, not data")
    normalised: dict[str, Any] = orjson.loads(raw)
    return normalised


async def emit(
    uow: UnitOfWork,
    event_type: str,
    payload: dict[str, Any],
    *,
    tenant_id: uuid.UUID | None = None,
    available_at: dt.datetime | None = None,
    dedup_key: str | None = None,
) -> uuid.UUID:
    """Add an event to ``uow``'s transaction; with ``dedup_key``, at most one ever exists.

    A dedup key is remembered as long as its event is kept: delivered events are purged
    after ``outbox_retention_days``. The tenant defaults to the unit of work's.
    """
    values = event_row(
        uow,
        event_type,
        payload,
        tenant_id=tenant_id,
        available_at=available_at,
        dedup_key=dedup_key,
    )
    if dedup_key is None:
        # No round trip: the row is flushed with the rest of the use case's writes.
        uow.session.add(OutboxEvent(**values))
        return uuid.UUID(str(values["id"]))
    return await _emit_once(uow, values, dedup_key)


def event_row(
    uow: UnitOfWork,
    event_type: str,
    payload: dict[str, Any],
    *,
    tenant_id: uuid.UUID | None = None,
    available_at: dt.datetime | None = None,
    dedup_key: str | None = None,
) -> dict[str, Any]:
    """The checked ``outbox_events`` row of an event (see :func:`emit`), for callers that
    insert it with their other rows (:func:`vaxport.core.db.write_batch`); without a
    ``dedup_key`` only, as a duplicate would abort the whole batch."""
    check_event_type(event_type)
    if available_at is not None and available_at.tzinfo is None:
        raise ValueError("available_at must be timezone-aware")
    if dedup_key is not None and not 0 < len(dedup_key) <= 200:
        raise ValueError("dedup_key must be 1..200 characters")
    now = utcnow()
    return {
        "id": uuid7(),
        "tenant_id": tenant_id if tenant_id is not None else uow.tenant_id,
        "event_type": event_type,
        "payload": _normalise(payload),
        "dedup_key": dedup_key,
        "state": PENDING,
        "attempts": 0,
        "available_at": available_at or now,
        "created_at": now,
    }


async def _emit_once(uow: UnitOfWork, values: dict[str, Any], dedup_key: str) -> uuid.UUID:
    # ON CONFLICT DO NOTHING makes concurrent emitters race-safe without aborting the
    # caller's transaction: on PostgreSQL the loser waits for the winner's commit, then
    # reads its row; on SQLite writers are serialised by BEGIN IMMEDIATE.
    session = uow.session
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(OutboxEvent)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[OutboxEvent.dedup_key])
        .returning(OutboxEvent.id)
    )
    inserted = (await session.execute(stmt)).scalar_one_or_none()
    if inserted is not None:
        return inserted
    existing = await session.scalar(
        select(OutboxEvent.id).where(OutboxEvent.dedup_key == dedup_key)
    )
    if existing is None:  # pragma: no cover - the conflicting row was deleted meanwhile
        raise RuntimeError("outbox dedup conflict without a row")
    return existing
