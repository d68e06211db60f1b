"""scheduling_sessions: a partial index on the open sessions by day

Every worker's scheduling round looks for open sessions whose day is over
(``scheduling/attendance/closing.py``); without this index that read goes through every
session the tenant ever held.

Revision ID: 0022_sessions_open_day
Revises: 0021_immunization
Create Date: 2026-12-07 14:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_sessions_open_day"
down_revision = "0021_immunization"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scheduling_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_scheduling_sessions_open_day",
            ["tenant_id", "day"],
            unique=False,
            postgresql_where=sa.text("status = 'open'"),
            sqlite_where=sa.text("status = 'open'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("scheduling_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_scheduling_sessions_open_day")
