"""Notification tables: one row per message, and each person's preferences.

A message row is written in the transaction of the use case that asks for it, beside
the outbox event that makes the worker send it. Its destination and template data are
personal data (a login code is a secret): stored encrypted, the destination also as a
blind index so per-recipient caps can count without decrypting anything. The template
data is cleared once the message reaches a final state.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Boolean, CheckConstraint, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from vaxport.core.clock import utcnow
from vaxport.core.crypto import encrypted
from vaxport.core.crypto.fields import BlindIndexBytes
from vaxport.core.db import Base
from vaxport.core.ids import uuid7

QUEUED = "queued"
SENDING = "sending"
SENT = "sent"
DELIVERED = "delivered"
FAILED = "failed"
CANCELLED = "cancelled"
STATUSES = (QUEUED, SENDING, SENT, DELIVERED, FAILED, CANCELLED)
# Nothing more will be sent for a message in these states (callbacks may still move
# sent -> delivered/failed).
DONE = frozenset({SENT, DELIVERED, FAILED, CANCELLED})


class Message(Base):
    """One message to one destination about one event."""

    __tablename__ = "messages"
    __table_args__ = (
        # A redelivered request, event or retry finds the first message: never two sends.
        UniqueConstraint("tenant_id", "dedup_key"),
        CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'cancelled')",
            name="status",
        ),
        CheckConstraint("kind IN ('sms', 'email')", name="kind"),
        CheckConstraint("(to_phone_enc IS NULL) OR (to_email_enc IS NULL)", name="one_destination"),
        # cancel_for_reason: only messages still waiting can be cancelled.
        Index(
            "ix_messages_pending_reason",
            "tenant_id",
            "reason_type",
            "reason_id",
            postgresql_where=text("status = 'queued'"),
            sqlite_where=text("status = 'queued'"),
        ),
        # Provider delivery callbacks name the provider's id.
        Index(
            "ix_messages_provider_id",
            "tenant_id",
            "channel",
            "provider_message_id",
            postgresql_where=text("provider_message_id IS NOT NULL"),
            sqlite_where=text("provider_message_id IS NOT NULL"),
        ),
        # Per-recipient caps count recent sends to one destination.
        Index("ix_messages_phone_recent", "tenant_id", "to_phone_bidx", "last_attempt_at"),
        Index("ix_messages_email_recent", "tenant_id", "to_email_bidx", "last_attempt_at"),
        Index("ix_messages_subject", "tenant_id", "subject_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID]
    event: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(8))
    # The channel that carried (or is carrying) it; set when a send starts.
    channel: Mapped[str | None] = mapped_column(String(63))
    # The person it is for, when the caller named one (account or beneficiary id).
    subject_id: Mapped[uuid.UUID | None]
    to_phone = encrypted("phone", index=True)
    to_email = encrypted("email", index=True)
    # encrypted() adds these; declared here too so that type checkers see them.
    to_phone_bidx: Mapped[bytes | None] = mapped_column(BlindIndexBytes())
    to_email_bidx: Mapped[bytes | None] = mapped_column(BlindIndexBytes())
    data = encrypted("json")
    locale: Mapped[str | None] = mapped_column(String(35))
    dedup_key: Mapped[str] = mapped_column(String(200))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    essential: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the message is about (an appointment, a dose): cancel_for_reason finds it.
    reason_type: Mapped[str | None] = mapped_column(String(64))
    reason_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    # A stable, low-cardinality code: the provider's failure reason, 'opted_out'...
    status_reason: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The send in progress: a worker records its outcome only if it still owns it.
    attempt_id: Mapped[uuid.UUID | None]
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    due_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None]
    last_attempt_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    delivered_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class NotificationPreference(Base):
    """How one person wants to hear from the service (no row: the defaults)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (
        UniqueConstraint("tenant_id", "subject_id"),
        CheckConstraint("preferred_kind IN ('sms', 'email')", name="preferred_kind"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID]
    subject_id: Mapped[uuid.UUID]
    preferred_kind: Mapped[str | None] = mapped_column(String(8))
    # Reminders and other non-essential messages are not sent; login codes and
    # certificate notices still are.
    opt_out_non_essential: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
