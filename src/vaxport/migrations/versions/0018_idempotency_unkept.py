"""idempotency_keys: an ``unkept`` state for finished requests whose answer was a secret

A request whose answer must never rest in a table (``Cache-Control: no-store``: tokens,
one-time links) used to delete its claim, so the same key on a different request ran as
if new. The row now stays, without any answer, remembering which request used the key:
its retry runs again, another request under the key is a 422.

Revision ID: 0018_idempotency_unkept
Revises: 0017_scheduling
Create Date: 2026-12-07 06:50:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0018_idempotency_unkept"
down_revision = "0017_scheduling"
branch_labels = None
depends_on = None

_NAME = "ck_idempotency_keys_state"


def _replace_check(states: str) -> None:
    with op.batch_alter_table("idempotency_keys", recreate="auto") as batch:
        batch.drop_constraint(op.f(_NAME), type_="check")
        batch.create_check_constraint(op.f(_NAME), f"state IN ({states})")


def upgrade() -> None:
    _replace_check("'in_progress', 'done', 'unkept'")


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_keys WHERE state = 'unkept'")
    _replace_check("'in_progress', 'done'")
