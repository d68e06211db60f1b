"""outbox deliveries: each event fans out to its subscribers, delivered independently

Events emitted before this revision and still pending are fanned out by the first
worker of this release that claims them; rows delivered whole before it stay as they are.

Revision ID: 0011_outbox_deliveries
Revises: 0010_otp
Create Date: 2026-12-07 00:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_outbox_deliveries"
down_revision = "0010_otp"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("subscriber", sa.String(length=100), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_by", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered', 'dead')", name=op.f("ck_outbox_deliveries_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_deliveries")),
        sa.UniqueConstraint(
            "event_id", "subscriber", name=op.f("uq_outbox_deliveries_event_id_subscriber")
        ),
    )
    for name, column, state in (
        ("ix_outbox_deliveries_due", "available_at", "pending"),
        ("ix_outbox_deliveries_delivered", "delivered_at", "delivered"),
        ("ix_outbox_deliveries_dead", "created_at", "dead"),
    ):
        op.create_index(
            name,
            "outbox_deliveries",
            [column],
            postgresql_where=sa.text(f"state = '{state}'"),
            sqlite_where=sa.text(f"state = '{state}'"),
        )


def downgrade() -> None:
    # The release before delivers events whole: give it back every event some subscriber
    # has not had yet (all its handlers run again; they are idempotent).
    op.execute(
        "UPDATE outbox_events SET state = 'pending', delivered_at = NULL WHERE id IN "
        "(SELECT event_id FROM outbox_deliveries WHERE state <> 'delivered')"
    )
    for name in (
        "ix_outbox_deliveries_dead",
        "ix_outbox_deliveries_delivered",
        "ix_outbox_deliveries_due",
    ):
        op.drop_index(name, table_name="outbox_deliveries")
    op.drop_table("outbox_deliveries")
