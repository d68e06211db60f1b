"""facilities registry: facilities and the vaccines each offers

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 07:50:05.761222
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "facilities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("region_code", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("postal_code", sa.String(length=20), nullable=True),
        sa.Column(
            "postal_key",
            sa.String(length=20).with_variant(sa.String(length=20, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("latitude", sa.Double(), nullable=True),
        sa.Column("longitude", sa.Double(), nullable=True),
        sa.Column("ux", sa.Double(), nullable=True),
        sa.Column("uy", sa.Double(), nullable=True),
        sa.Column("uz", sa.Double(), nullable=True),
        sa.Column(
            "opening_hours",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column(
            "accessibility", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column(
            "vaccines", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("daily_capacity", sa.Integer(), nullable=True),
        sa.Column("stations", sa.Integer(), nullable=True),
        sa.Column("search_text", sa.String(length=2000), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deactivated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "type IN ('public', 'private', 'mobile', 'outreach')",
            name=op.f("ck_facilities_type_known"),
        ),
        sa.CheckConstraint(
            "(latitude IS NULL AND longitude IS NULL AND ux IS NULL AND uy IS NULL AND uz IS NULL) OR (latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180 AND ux IS NOT NULL AND uy IS NOT NULL AND uz IS NOT NULL)",
            name=op.f("ck_facilities_location_complete"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_facilities_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facilities")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_facilities_tenant_id_code")),
    )
    with op.batch_alter_table("facilities", schema=None) as batch_op:
        batch_op.create_index(
            "ix_facilities_tenant_id_postal_key", ["tenant_id", "postal_key"], unique=False
        )
        batch_op.create_index(
            "ix_facilities_tenant_id_region_code", ["tenant_id", "region_code"], unique=False
        )
        batch_op.create_index("ix_facilities_tenant_id_uz", ["tenant_id", "uz"], unique=False)

    op.create_table(
        "facility_vaccines",
        sa.Column("facility_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_facility_vaccines_facility_id_facilities"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_facility_vaccines_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("facility_id", "product_id", name=op.f("pk_facility_vaccines")),
    )
    with op.batch_alter_table("facility_vaccines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_facility_vaccines_tenant_id_product_id",
            ["tenant_id", "product_id", "facility_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("facility_vaccines", schema=None) as batch_op:
        batch_op.drop_index("ix_facility_vaccines_tenant_id_product_id")

    op.drop_table("facility_vaccines")
    with op.batch_alter_table("facilities", schema=None) as batch_op:
        batch_op.drop_index("ix_facilities_tenant_id_uz")
        batch_op.drop_index("ix_facilities_tenant_id_region_code")
        batch_op.drop_index("ix_facilities_tenant_id_postal_key")

    op.drop_table("facilities")
