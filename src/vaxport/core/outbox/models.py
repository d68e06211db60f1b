"""The outbox table: events written in the use case's transaction, delivered by workers."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ColumnElement, Index, Integer, String, literal_column, text
from sqlalchemy.orm import Mapped, mapped_column

from vaxport.core.clock import utcnow
from vaxport.core.db import Base, JSONDoc
from vaxport.core.ids import uuid7

PENDING = "pending"
DELIVERED = "delivered"
DEAD = "dead"


class OutboxEvent(Base):
    """One event; ``pending`` until every handler succeeded, ``dead`` when given up on.

    A worker holds a claimed event for ``locked_until`` (its lease); when the worker dies
    the lease lapses and another worker delivers the event again (at least once).
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'delivered', 'dead')", name="state"),
        # The claim query: due pending events in order. Partial, so delivered history
        # (most of the table) costs the hot path nothing.
        Index(
            "ix_outbox_events_due",
            "available_at",
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
        Index(
            "ix_outbox_events_delivered",
            "delivered_at",
            postgresql_where=text("state = 'delivered'"),
            sqlite_where=text("state = 'delivered'"),
        ),
        Index(
            "ix_outbox_events_dead",
            "created_at",
            postgresql_where=text("state = 'dead'"),
            sqlite_where=text("state = 'dead'"),
        ),
        # Workers claim events of every tenant; rows carry ids only, never personal data,
        # and each handler re-enters its tenant's scope before touching tenant tables.
        {"info": {"cross_tenant": "the worker claims events of every tenant; ids only"}},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    # Nullable: a few events are about the installation, not one tenant.
    tenant_id: Mapped[uuid.UUID | None] = mapped_column()
    event_type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    dedup_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column()
    locked_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column()


# Literals, not bound parameters: PostgreSQL only uses a partial index in a generic
# (prepared) plan when the query repeats the index predicate verbatim.
IS_PENDING: ColumnElement[bool] = OutboxEvent.state == literal_column(f"'{PENDING}'")
IS_DELIVERED: ColumnElement[bool] = OutboxEvent.state == literal_column(f"'{DELIVERED}'")
IS_DEAD: ColumnElement[bool] = OutboxEvent.state == literal_column(f"'{DEAD}'")
