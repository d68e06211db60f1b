"""Appending audit entries inside the act's own transaction.

Writers never contend: an entry is a plain INSERT carrying its own content hash and the
transaction's commit-order key; linking entries into the tenant's hash chain is the
sealer's job (``chain.py``), done later in batches. So a surge of writes of one tenant
serialises on nothing here.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Required, TypedDict, Unpack, cast

from sqlalchemy import BigInteger, Table, Text, func, insert, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.sql.elements import ColumnElement

from vaxport.core.audit import hashing
from vaxport.core.audit.models import AuditEntry
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.ids import uuid7
from vaxport.core.logging import request_id_var
from vaxport.core.principal import Principal
from vaxport.core.scrub import contains_personal_data


def _secret() -> str:
    from vaxport.settings import get_settings

    return get_settings().secret_key.get_secret_value()


@functools.cache
def _pg_txn_seq() -> ColumnElement[Any]:
    # The 64-bit transaction id (epoch-extended, never wraps): every entry of one
    # transaction shares it and becomes visible at the same instant.
    return sql_cast(sql_cast(func.pg_current_xact_id(), Text), BigInteger)


def _txn_seq(dialect: str, tenant_id: uuid.UUID) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return _pg_txn_seq()
    # SQLite: writers hold the database write lock from BEGIN IMMEDIATE to COMMIT, so a
    # per-tenant max+1 taken now is already in commit order.
    return (
        select(func.coalesce(func.max(AuditEntry.txn_seq), 0) + 1)
        .where(AuditEntry.tenant_id == tenant_id)
        .scalar_subquery()
    )


@functools.cache
def _pg_insert() -> Any:
    return insert(cast(Table, AuditEntry.__table__)).values(
        txn_seq=_txn_seq("postgresql", uuid.UUID(int=0))  # the same for every tenant
    )


def _insert(dialect: str, tenant_id: uuid.UUID) -> Any:
    """The INSERT of entries whose values come as parameters.

    A Core insert of the Table, not the entity: it keeps the txn_seq SQL expression
    beside a parameter list. On PostgreSQL it is the same statement for every entry, built
    once, so SQLAlchemy finds its compiled form without recomputing its cache key.
    """
    if dialect == "postgresql":
        return _pg_insert()
    return insert(cast(Table, AuditEntry.__table__)).values(txn_seq=_txn_seq(dialect, tenant_id))


class EntryFields(TypedDict, total=False):
    """What an entry says besides who acted (:func:`record`'s other keyword arguments)."""

    action: Required[str]
    object_type: Required[str]
    object_id: Required[str | uuid.UUID | None]
    outcome: str
    details: Mapping[str, Any] | None
    request_id: str | None
    client_ip: str | None


def _content(
    tenant_id: uuid.UUID | None,
    *,
    by: Principal,
    action: str,
    object_type: str,
    object_id: str | uuid.UUID | None,
    outcome: str = "success",
    request_id: str | None = None,
    client_ip: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The checked, hashed column values of one entry (see :func:`record`)."""
    if tenant_id is None:
        # Same rule on every database: PostgreSQL's RLS would refuse the insert anyway.
        raise ValueError("audit entry needs a unit of work scoped to a tenant")
    hashing.check_slug("actor_role", by.role)
    hashing.check_slug("action", action)
    hashing.check_slug("object_type", object_type)
    if outcome not in hashing.OUTCOMES:
        raise ValueError(f"audit outcome must be one of {sorted(hashing.OUTCOMES)}")
    oid = str(object_id) if object_id is not None else None
    # A UUID is an identifier by construction: only free text is searched for personal
    # data (the patterns' scan was a tenth of a registration's audit entry).
    if isinstance(object_id, str) and (len(object_id) > 128 or contains_personal_data(object_id)):
        raise ValueError("audit object_id must be a short identifier, never personal data")
    checked = dict(details or {})
    details_json = hashing.check_details(checked)
    rid = request_id if request_id is not None else request_id_var.get()
    content: dict[str, Any] = {
        "format": hashing.FORMAT,
        "id": uuid7(),
        "tenant_id": tenant_id,
        "occurred_at": utcnow(),
        "actor_id": by.id,
        "actor_role": by.role,
        "action": action,
        "object_type": object_type,
        "object_id": oid,
        "outcome": outcome,
        "request_id": rid[:64] if rid else None,
        "client_ip_hash": hashing.client_ip_hash(client_ip, _secret()) if client_ip else None,
        "details": checked,
    }
    # The details' canonical JSON of the size check goes into the hash: encoded once.
    return {**content, "entry_hash": hashing.entry_hash(**content, details_json=details_json)}


async def record(
    uow: UnitOfWork,
    *,
    by: Principal,
    action: str,
    object_type: str,
    object_id: str | uuid.UUID | None,
    outcome: str = "success",
    details: Mapping[str, Any] | None = None,
    request_id: str | None = None,
    client_ip: str | None = None,
) -> uuid.UUID:
    """Append an entry of ``uow``'s tenant in its transaction (it commits or vanishes with
    the act): ``by`` did ``action`` to ``object_type`` ``object_id``.

    ``request_id`` defaults to the current request's; ``client_ip`` is stored only as a
    keyed hash. Raises ValueError on malformed input or anything that looks personal.
    """
    row = _content(
        uow.tenant_id,
        by=by,
        action=action,
        object_type=object_type,
        object_id=object_id,
        outcome=outcome,
        details=details,
        request_id=request_id,
        client_ip=client_ip,
    )
    dialect = uow.dialect.name
    await uow.session.execute(_insert(dialect, row["tenant_id"]), row)
    entry_id: uuid.UUID = row["id"]
    return entry_id


async def record_many(
    uow: UnitOfWork, *, by: Principal, entries: Sequence[EntryFields]
) -> list[uuid.UUID]:
    """Append several entries by ``by`` (each as :func:`record`'s other keyword arguments)
    in one round trip.

    For bulk acts (imports) that audit every object they change: the same checks and
    hashes as :func:`record`, one executemany instead of one statement per entry.
    """
    rows = [_content(uow.tenant_id, by=by, **entry) for entry in entries]
    if not rows:
        return []
    dialect = uow.dialect.name
    await uow.session.execute(_insert(dialect, rows[0]["tenant_id"]), rows)
    return [row["id"] for row in rows]


def entry_rows(
    uow: UnitOfWork, *, by: Principal, entries: Sequence[EntryFields]
) -> tuple[Table, list[dict[str, Any]]]:
    """The audit table and the rows of entries by ``by``, checked and hashed as
    :func:`record_many` does, for the caller to insert in ``uow``'s transaction with its
    other rows (:func:`vaxport.core.db.write_batch`) instead of a statement of their own."""
    rows = [_content(uow.tenant_id, by=by, **entry) for entry in entries]
    if rows:
        seq = _txn_seq(uow.dialect.name, rows[0]["tenant_id"])
        for row in rows:
            row["txn_seq"] = seq
    return cast(Table, AuditEntry.__table__), rows


async def record_standalone(
    db: Database, *, tenant_id: uuid.UUID, by: Principal, **fields: Unpack[EntryFields]
) -> uuid.UUID:
    """:func:`record` in a transaction of its own, of ``tenant_id``: for refusals and
    failures whose act rolls back."""
    async with db.transaction(tenant_id=tenant_id) as uow:
        return await record(uow, by=by, **fields)
