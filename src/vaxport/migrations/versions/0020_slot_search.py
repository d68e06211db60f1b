"""scheduling_slots: an index in start-time order for the public slot search

The public search (``scheduling/search.py``) pages through the coming open slots by
``(starts_at, id)``; with no filter that is the whole country's window, which without
this index is sorted on every rebuild of a cached answer.

Revision ID: 0020_slot_search
Revises: 0019_scheduling_fairness
Create Date: 2026-12-08 09:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0020_slot_search"
down_revision = "0019_scheduling_fairness"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scheduling_slots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_scheduling_slots_tenant_starts", ["tenant_id", "starts_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("scheduling_slots", schema=None) as batch_op:
        batch_op.drop_index("ix_scheduling_slots_tenant_starts")
