"""regions table; tenant summary columns (names, default locale, locales)

Revision ID: 0002
Revises: 0003
Create Date: 2026-11-27 07:07:00.606737
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0003"
branch_labels = None
depends_on = None

JSONDoc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "regions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("parent_code", sa.String(length=64), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("name", JSONDoc, nullable=False),
        sa.Column(
            "path",
            sa.String(length=1024).with_variant(
                sa.String(length=1024, collation="C"), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("population", JSONDoc, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_regions_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regions")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_regions_tenant_id_code")),
    )
    op.create_index("ix_regions_tenant_id_path", "regions", ["tenant_id", "path"], unique=False)

    # The server defaults carry existing rows through the NOT NULL (and stay: dropping
    # them would make SQLite rebuild a table other tables reference); the backfill then
    # copies the real values out of each stored config, since reloading an unchanged file
    # is a no-op that would never fill them.
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("names", JSONDoc, nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.add_column(
            sa.Column("default_locale", sa.String(length=35), nullable=False, server_default="en")
        )
        batch_op.add_column(
            sa.Column("locales", JSONDoc, nullable=False, server_default=sa.text("'[]'"))
        )
    _backfill_tenant_summaries()


def _backfill_tenant_summaries() -> None:
    tenants = sa.table(
        "tenants",
        sa.column("id", sa.Uuid()),
        sa.column("config", JSONDoc),
        sa.column("names", JSONDoc),
        sa.column("default_locale", sa.String()),
        sa.column("locales", JSONDoc),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(tenants.c.id, tenants.c.config)).all()
    for tenant_id, config in rows:
        cfg: dict[str, Any] = config or {}
        default = str(cfg.get("default_locale") or "en")
        name = cfg.get("name")
        names = name if isinstance(name, dict) else {default: str(name or "")}
        bind.execute(
            sa.update(tenants)
            .where(tenants.c.id == tenant_id)
            .values(names=names, default_locale=default, locales=list(cfg.get("locales") or []))
        )


def downgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("locales")
        batch_op.drop_column("default_locale")
        batch_op.drop_column("names")
    op.drop_index("ix_regions_tenant_id_path", table_name="regions")
    op.drop_table("regions")
