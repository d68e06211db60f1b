"""Audit use cases for readers: the filtered, cursor-paginated list of entries."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid

import orjson
from sqlalchemy import select, tuple_

from vaxport.audit.schemas import AuditEntryOut, AuditPageOut
from vaxport.core.audit.models import AuditChainLink, AuditEntry
from vaxport.core.db import Database
from vaxport.core.errors import invalid
from vaxport.core.i18n import N_
from vaxport.identity.service import Resource, Subject, authorize

MAX_LIMIT = 200


def _encode_cursor(occurred_at: dt.datetime, entry_id: uuid.UUID) -> str:
    raw = orjson.dumps([occurred_at.isoformat(), str(entry_id)])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, ident = orjson.loads(raw)
        at = dt.datetime.fromisoformat(when)
        if at.tzinfo is None:
            raise ValueError("naive")
        return at, uuid.UUID(ident)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise invalid("cursor", N_("is not a cursor this list gave out")) from exc


async def list_entries(
    *,
    db: Database,
    actor: Subject,
    actor_id: uuid.UUID | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> AuditPageOut:
    """The actor's tenant's audit entries, newest first, filtered; ``since`` inclusive.

    Only actors allowed ``audit:read`` over the whole tenant (national auditors and
    admins) see them; anyone else gets NotFound, as if the log did not exist.
    """
    tenant_id = actor.tenant_id
    authorize(actor, "audit:read", Resource(tenant_id=tenant_id), what="audit log")
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid("limit", N_("must be between 1 and {maximum}"), maximum=MAX_LIMIT)
    if since is not None and until is not None and since >= until:
        raise invalid("until", N_("must be later than since"))
    e = AuditEntry
    query = (
        select(e, AuditChainLink.position)
        .outerjoin(AuditChainLink, AuditChainLink.entry_id == e.id)
        .where(e.tenant_id == tenant_id)
    )
    if actor_id is not None:
        query = query.where(e.actor_id == actor_id)
    if object_type is not None:
        query = query.where(e.object_type == object_type)
    if object_id is not None:
        query = query.where(e.object_id == object_id)
    if action is not None:
        query = query.where(e.action == action)
    if since is not None:
        query = query.where(e.occurred_at >= since)
    if until is not None:
        query = query.where(e.occurred_at < until)
    if cursor:
        at, ident = _decode_cursor(cursor)
        query = query.where(tuple_(e.occurred_at, e.id) < tuple_(at, ident))
    query = query.order_by(e.occurred_at.desc(), e.id.desc()).limit(limit + 1)
    async with db.read(tenant_id=tenant_id) as session:
        rows = (await session.execute(query)).all()
        # Before the read-only transaction's rollback expires the ORM objects.
        items = [_view(entry, position) for entry, position in rows[:limit]]
    more = len(rows) > limit
    next_cursor = _encode_cursor(items[-1].occurred_at, items[-1].id) if more else None
    return AuditPageOut(items=items, next_cursor=next_cursor)


def _view(entry: AuditEntry, position: int | None) -> AuditEntryOut:
    return AuditEntryOut(
        id=entry.id,
        occurred_at=entry.occurred_at,
        actor_id=entry.actor_id,
        actor_role=entry.actor_role,
        action=entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id,
        outcome=entry.outcome,
        request_id=entry.request_id,
        client_ip_hash=entry.client_ip_hash,
        details=entry.details,
        entry_hash=entry.entry_hash,
        chain_position=position,
    )
