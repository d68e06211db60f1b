"""registration: an index for the records merged into a person (their doses are theirs)

Every dose's read follows the records merged into the person (``with_merged``, a
recursive query on ``merged_into_id``): without an index each step scanned the tenant's
people (9 ms at 44,000, every dose, and 50 times for an offline batch's chunk). Partial:
only merged records are in it, so it stays small and costs registrations nothing.

Revision ID: 0031_merged_into_index
Revises: 0030_trust_list_rotation
Create Date: 2026-12-07 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031_merged_into_index"
down_revision = "0030_trust_list_rotation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_beneficiaries_merged_into",
        "beneficiaries",
        ["tenant_id", "merged_into_id"],
        postgresql_where=sa.text("status = 'merged'"),
        sqlite_where=sa.text("status = 'merged'"),
    )


def downgrade() -> None:
    op.drop_index("ix_beneficiaries_merged_into", table_name="beneficiaries")
