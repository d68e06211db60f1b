"""notification messages and preferences

Revision ID: 0006
Revises: 0008
Create Date: 2026-11-27 07:47:25.573027
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=63), nullable=True),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("to_phone_enc", sa.LargeBinary(), nullable=True),
        sa.Column("to_phone_bidx", sa.LargeBinary(), nullable=True),
        sa.Column("to_email_enc", sa.LargeBinary(), nullable=True),
        sa.Column("to_email_bidx", sa.LargeBinary(), nullable=True),
        sa.Column("data_enc", sa.LargeBinary(), nullable=True),
        sa.Column("locale", sa.String(length=35), nullable=True),
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("essential", sa.Boolean(), nullable=False),
        sa.Column("reason_type", sa.String(length=64), nullable=True),
        sa.Column("reason_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Uuid(), nullable=True),
        sa.Column("provider_message_id", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('sms', 'email')", name=op.f("ck_messages_kind")),
        sa.CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'cancelled')",
            name=op.f("ck_messages_status"),
        ),
        sa.CheckConstraint(
            "(to_phone_enc IS NULL) OR (to_email_enc IS NULL)",
            name=op.f("ck_messages_one_destination"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("tenant_id", "dedup_key", name=op.f("uq_messages_tenant_id_dedup_key")),
    )
    op.create_index(
        "ix_messages_pending_reason",
        "messages",
        ["tenant_id", "reason_type", "reason_id"],
        postgresql_where=sa.text("status = 'queued'"),
        sqlite_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        "ix_messages_provider_id",
        "messages",
        ["tenant_id", "channel", "provider_message_id"],
        postgresql_where=sa.text("provider_message_id IS NOT NULL"),
        sqlite_where=sa.text("provider_message_id IS NOT NULL"),
    )
    op.create_index(
        "ix_messages_phone_recent", "messages", ["tenant_id", "to_phone_bidx", "last_attempt_at"]
    )
    op.create_index(
        "ix_messages_email_recent", "messages", ["tenant_id", "to_email_bidx", "last_attempt_at"]
    )
    op.create_index("ix_messages_subject", "messages", ["tenant_id", "subject_id", "created_at"])

    op.create_table(
        "notification_preferences",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("preferred_kind", sa.String(length=8), nullable=True),
        sa.Column("opt_out_non_essential", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "preferred_kind IN ('sms', 'email')",
            name=op.f("ck_notification_preferences_preferred_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_preferences")),
        sa.UniqueConstraint(
            "tenant_id",
            "subject_id",
            name=op.f("uq_notification_preferences_tenant_id_subject_id"),
        ),
    )


def downgrade() -> None:
    op.drop_table("notification_preferences")
    for name in (
        "ix_messages_subject",
        "ix_messages_email_recent",
        "ix_messages_phone_recent",
        "ix_messages_provider_id",
        "ix_messages_pending_reason",
    ):
        op.drop_index(name, table_name="messages")
    op.drop_table("messages")
