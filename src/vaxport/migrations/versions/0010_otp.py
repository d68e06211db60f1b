"""identity: one-time code transactions (citizen login, recovery, contact change, claim)

Revision ID: 0010_otp
Revises: 0009
Create Date: 2026-11-27 10:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_otp"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "otp_transactions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("dest_kind", sa.String(length=8), nullable=False),
        sa.Column("dest_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("context", sa.String(length=200), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("destination_enc", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otp_transactions")),
    )
    with op.batch_alter_table("otp_transactions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_otp_transactions_tenant_id_dest_hash_created_at",
            ["tenant_id", "dest_hash", "created_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("otp_transactions", schema=None) as batch_op:
        batch_op.drop_index("ix_otp_transactions_tenant_id_dest_hash_created_at")
    op.drop_table("otp_transactions")
