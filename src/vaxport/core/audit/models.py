"""Audit tables: entries (written by every act) and the chain that seals them.

Both are append-only: the app role may INSERT and SELECT, never UPDATE or DELETE
(grants in ``core/rls.py``; a trigger refuses changes even from the owner). Entries
hold no personal data: who (actor id and role), did what (action) to what (object type
and id), when, with what outcome, from which request and client (a keyed hash of the IP).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import BigInteger, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from vaxport.core.db import Base, JSONDoc

# Tables whose rows the app may only add (core/rls.py grants INSERT + SELECT only).
APPEND_ONLY = {"append_only": True}


class AuditEntry(Base):
    """One audited act, hashed on insert (``entry_hash``), sealed into the chain later."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        # The sealer walks a tenant's entries in commit order.
        Index("ix_audit_entries_tenant_seq", "tenant_id", "txn_seq", "id"),
        # Auditors' lists: newest first, by time, actor or object.
        Index("ix_audit_entries_tenant_time", "tenant_id", "occurred_at", "id"),
        Index("ix_audit_entries_tenant_actor", "tenant_id", "actor_id", "occurred_at"),
        Index(
            "ix_audit_entries_tenant_object", "tenant_id", "object_type", "object_id", "occurred_at"
        ),
        {"info": APPEND_ONLY},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # No foreign key to tenants: evidence must not depend on (or key-share-lock, on
    # every insert) another row.
    tenant_id: Mapped[uuid.UUID]
    # Commit-order key: the writing transaction's id on PostgreSQL, a per-tenant
    # counter taken under SQLite's write lock. Not part of the hashed content.
    txn_seq: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[int] = mapped_column(SmallInteger)
    occurred_at: Mapped[dt.datetime]
    actor_id: Mapped[uuid.UUID | None]
    actor_role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(128))
    outcome: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_ip_hash: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditChainLink(Base):
    """The sealed order of a tenant's entries: link N hashes entry N with link N-1."""

    __tablename__ = "audit_chain"
    __table_args__ = ({"info": APPEND_ONLY},)

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    # Copied from the entry so the sealer's cursor and verify's completeness check do
    # not depend on the (possibly tampered) entry row.
    entry_seq: Mapped[int] = mapped_column(BigInteger)
    entry_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    chain_hash: Mapped[str] = mapped_column(String(64))
    # The lowest ``txn_seq`` the next sealing round must look at (see chain.py).
    next_lower: Mapped[int] = mapped_column(BigInteger)
    sealed_at: Mapped[dt.datetime]
