"""immunization: vaccine lots, dose records and the revisions kept by corrections and voids

See immunization/models.py: one recorded dose per person, series and dose number.

Revision ID: 0021_immunization
Revises: 0020_slot_search
Create Date: 2026-12-07 13:39:54.025571
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0021_immunization"
down_revision = "0020_slot_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "immunization_lots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("lot_number", sa.String(length=64), nullable=False),
        sa.Column("manufacturer", sa.String(length=200), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("doses_per_vial", sa.Integer(), nullable=True),
        sa.Column("on_hold", sa.Boolean(), nullable=False),
        sa.Column("hold_reason", sa.String(length=500), nullable=True),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "doses_per_vial IS NULL OR doses_per_vial >= 1",
            name=op.f("ck_immunization_lots_vial_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_immunization_lots_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_immunization_lots")),
        sa.UniqueConstraint(
            "tenant_id",
            "product_id",
            "lot_number",
            name=op.f("uq_immunization_lots_tenant_id_product_id_lot_number"),
        ),
    )
    op.create_table(
        "immunization_doses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("beneficiary_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("series", sa.String(length=64), nullable=False),
        sa.Column("dose_number", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Uuid(), nullable=True),
        sa.Column("administered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("facility_id", sa.Uuid(), nullable=True),
        sa.Column("region_code", sa.String(length=64), nullable=False),
        sa.Column("vaccinator_id", sa.Uuid(), nullable=True),
        sa.Column("site", sa.String(length=16), nullable=True),
        sa.Column("route", sa.String(length=8), nullable=True),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("overridden", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("device_recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notes_enc", sa.LargeBinary(), nullable=True),
        sa.Column("override_reason_enc", sa.LargeBinary(), nullable=True),
        sa.Column("void_reason_enc", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint(
            "source IN ('online', 'offline')", name=op.f("ck_immunization_doses_source_known")
        ),
        sa.CheckConstraint(
            "status IN ('recorded', 'voided')", name=op.f("ck_immunization_doses_status_known")
        ),
        sa.CheckConstraint(
            "dose_number >= 1", name=op.f("ck_immunization_doses_dose_number_positive")
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_immunization_doses_facility_id_facilities"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"],
            ["immunization_lots.id"],
            name=op.f("fk_immunization_doses_lot_id_immunization_lots"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_immunization_doses_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_immunization_doses")),
    )
    with op.batch_alter_table("immunization_doses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_immunization_doses_beneficiary", ["tenant_id", "beneficiary_id"], unique=False
        )
        batch_op.create_index(
            "ix_immunization_doses_facility_day", ["tenant_id", "facility_id", "day"], unique=False
        )
        batch_op.create_index("ix_immunization_doses_lot", ["tenant_id", "lot_id"], unique=False)
        batch_op.create_index(
            "ix_immunization_doses_region_day", ["tenant_id", "region_code", "day"], unique=False
        )
        batch_op.create_index(
            "uq_immunization_doses_recorded",
            ["tenant_id", "beneficiary_id", "series", "dose_number"],
            unique=True,
            postgresql_where=sa.text("status = 'recorded'"),
            sqlite_where=sa.text("status = 'recorded'"),
        )

    op.create_table(
        "immunization_dose_revisions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("dose_id", sa.Uuid(), nullable=False),
        sa.Column("beneficiary_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column(
            "before", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("changed_by", sa.Uuid(), nullable=True),
        sa.Column("approved_by", sa.Uuid(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason_enc", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dose_id"],
            ["immunization_doses.id"],
            name=op.f("fk_immunization_dose_revisions_dose_id_immunization_doses"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_immunization_dose_revisions_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_immunization_dose_revisions")),
        sa.UniqueConstraint(
            "dose_id", "version", name=op.f("uq_immunization_dose_revisions_dose_id_version")
        ),
        info={"append_only": True},
    )


def downgrade() -> None:
    op.drop_table("immunization_dose_revisions")
    with op.batch_alter_table("immunization_doses", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_immunization_doses_recorded",
            postgresql_where=sa.text("status = 'recorded'"),
            sqlite_where=sa.text("status = 'recorded'"),
        )
        batch_op.drop_index("ix_immunization_doses_region_day")
        batch_op.drop_index("ix_immunization_doses_lot")
        batch_op.drop_index("ix_immunization_doses_facility_day")
        batch_op.drop_index("ix_immunization_doses_beneficiary")

    op.drop_table("immunization_doses")
    op.drop_table("immunization_lots")
