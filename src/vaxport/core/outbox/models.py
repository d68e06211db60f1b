"""The outbox tables: events written in the use case's transaction, and their deliveries.

An event (the publication) is written once by :func:`~vaxport.core.outbox.emit`; a worker
fans it out into one delivery per subscriber, which it then delivers.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    Index,
    Integer,
    String,
    UniqueConstraint,
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from vaxport.core.clock import utcnow
from vaxport.core.db import Base, JSONDoc
from vaxport.core.ids import uuid7

PENDING = "pending"
DELIVERED = "delivered"
DEAD = "dead"


def lifecycle_constraints(table: str) -> tuple[CheckConstraint | Index, ...]:
    """The state check and the partial indexes of a leased, retried, dead-lettered row.

    Events and deliveries share the lifecycle (pending -> delivered | dead): due rows by
    ``available_at``, delivered ones by ``delivered_at`` (the purge), dead ones by
    ``created_at``.
    """

    def partial(suffix: str, column: str, state: str) -> Index:
        where = text(f"state = '{state}'")
        return Index(f"ix_{table}_{suffix}", column, postgresql_where=where, sqlite_where=where)

    return (
        CheckConstraint(f"state IN ('{PENDING}', '{DELIVERED}', '{DEAD}')", name="state"),
        partial("due", "available_at", PENDING),
        partial("delivered", "delivered_at", DELIVERED),
        partial("dead", "created_at", DEAD),
    )


class OutboxEvent(Base):
    """One published event; ``pending`` until fanned out, then ``delivered`` (handed over).

    A worker fans a due event out into :class:`OutboxDelivery` rows in one transaction,
    so a crash leaves it pending. ``attempts``, ``locked_*`` and ``last_error`` date from
    when events were delivered whole; deliveries carry them now.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        # The claim query uses the "due" index; all three are partial, so delivered
        # history (most of the table) costs the hot path nothing.
        *lifecycle_constraints("outbox_events"),
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


class OutboxDelivery(Base):
    """One event handed to one subscriber: retried, leased and dead-lettered on its own.

    The worker writes one row per current subscriber of the event's type when it first
    claims the event (the fan-out), so a subscriber that succeeded is never run again
    for that event when another one fails. ``event_type`` and ``tenant_id`` are copied
    from the event so backlog and dead letters are read without a join.
    """

    __tablename__ = "outbox_deliveries"
    __table_args__ = (
        *lifecycle_constraints("outbox_deliveries"),
        UniqueConstraint("event_id", "subscriber"),
        # Like the events: the worker works for every tenant, and rows hold ids only.
        {"info": {"cross_tenant": "the worker delivers events of every tenant; ids only"}},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    # No foreign key: the purge removes deliveries first and an event only once no
    # delivery refers to it, so the fan-out insert pays no lookup into the events.
    event_id: Mapped[uuid.UUID] = mapped_column()
    subscriber: Mapped[str] = mapped_column(String(100))
    tenant_id: Mapped[uuid.UUID | None] = mapped_column()
    event_type: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column()
    locked_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column()


D_PENDING: ColumnElement[bool] = OutboxDelivery.state == literal_column(f"'{PENDING}'")
D_DELIVERED: ColumnElement[bool] = OutboxDelivery.state == literal_column(f"'{DELIVERED}'")
D_DEAD: ColumnElement[bool] = OutboxDelivery.state == literal_column(f"'{DEAD}'")
