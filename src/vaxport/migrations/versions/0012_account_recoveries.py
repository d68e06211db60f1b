"""identity: account recoveries (undo, hold) and the account's recovery hold

Revision ID: 0011_account_recoveries
Revises: 0010_otp
Create Date: 2026-12-07 01:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011_account_recoveries"
down_revision = "0011_outbox_deliveries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_recoveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column(
            "notified", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("hold_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undo_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("undo_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("old_phone_enc", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_recoveries_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_recoveries")),
        sa.UniqueConstraint("undo_hash", name=op.f("uq_account_recoveries_undo_hash")),
    )
    with op.batch_alter_table("account_recoveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_account_recoveries_tenant_id_account_id",
            ["tenant_id", "account_id"],
            unique=False,
        )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("recovery_hold_until", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("recovery_hold_until")
    with op.batch_alter_table("account_recoveries", schema=None) as batch_op:
        batch_op.drop_index("ix_account_recoveries_tenant_id_account_id")
    op.drop_table("account_recoveries")
