"""certificates: the trust-list key rotates (a hand-over signed by the previous key)

See certificates/trust/models.py (TrustListKey): ``previous_kid`` (unique: one successor
per key), ``endorsement`` (the signed hand-over, carried in every bundle) and
``retired_at`` (a retired key signs nothing more).

Revision ID: 0030_trust_list_rotation
Revises: 0029_sync
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0030_trust_list_rotation"
down_revision = "0029_sync"
branch_labels = None
depends_on = None

JSONDoc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("trust_list_keys") as batch:
        batch.add_column(sa.Column("previous_kid", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("endorsement", JSONDoc, nullable=True))
        batch.add_column(sa.Column("retired_at", TS, nullable=True))
        batch.create_unique_constraint(op.f("uq_trust_list_keys_previous_kid"), ["previous_kid"])


def downgrade() -> None:
    with op.batch_alter_table("trust_list_keys") as batch:
        batch.drop_constraint(op.f("uq_trust_list_keys_previous_kid"), type_="unique")
        batch.drop_column("retired_at")
        batch.drop_column("endorsement")
        batch.drop_column("previous_kid")
