"""idempotency keys: tenant-scoped (RLS), answers sealed, no plain response body

Stored answers held people's data and one-time claim codes in clear, in one table every
tenant's app connection could read. The table gains ``tenant_id`` (row-level security
attaches to it at ``vaxport db upgrade``), the answer moves to ``answer_enc`` (tenant key)
or ``person_answer_enc`` (the person's key, ``subject_id``), and ``withheld`` names the
secret fields left out. Rows kept so far are deleted: they hold plaintext and no tenant;
a retry of one of those requests (within the 24 h window) runs again.

Revision ID: 0011_idempotency_sealed
Revises: 0010_otp
Create Date: 2026-12-07 01:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_idempotency_sealed"
down_revision = "0011_account_recoveries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM idempotency_keys")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tenant_id", sa.Uuid(), nullable=False))
        batch_op.add_column(sa.Column("subject_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("withheld", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("answer_enc", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("person_answer_enc", sa.LargeBinary(), nullable=True))
        batch_op.drop_column("response_body")
        batch_op.create_index(
            "ix_idempotency_keys_tenant_id_subject_id", ["tenant_id", "subject_id"], unique=False
        )


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_keys")
    if op.get_bind().dialect.name == "postgresql":
        # The table was tenant-scoped under RLS (applied after upgrade): its policy reads
        # tenant_id, so it goes first, and the table is no longer a tenant table.
        op.execute("DROP POLICY IF EXISTS vaxport_tenant_v1 ON idempotency_keys")
        op.execute("ALTER TABLE idempotency_keys NO FORCE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE idempotency_keys DISABLE ROW LEVEL SECURITY")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_idempotency_keys_tenant_id_subject_id")
        batch_op.add_column(sa.Column("response_body", sa.LargeBinary(), nullable=True))
        batch_op.drop_column("person_answer_enc")
        batch_op.drop_column("answer_enc")
        batch_op.drop_column("withheld")
        batch_op.drop_column("subject_id")
        batch_op.drop_column("tenant_id")
