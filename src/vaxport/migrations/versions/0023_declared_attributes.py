"""beneficiaries: the declared risk groups and occupations, encrypted under the person's key

One ciphertext column (``declared_enc``) holding both sets (see
``registration/declared.py``). Existing people hold NULL: nothing declared. The table's
row-level security policy covers the new column as it does the others.

Revision ID: 0023_declared_attributes
Revises: 0022_sessions_open_day
Create Date: 2026-12-09 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_declared_attributes"
down_revision = "0022_sessions_open_day"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("beneficiaries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("declared_enc", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("beneficiaries", schema=None) as batch_op:
        batch_op.drop_column("declared_enc")
