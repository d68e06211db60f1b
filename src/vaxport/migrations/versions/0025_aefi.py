"""immunization: adverse event reports following immunization (AEFI)

See immunization/aefi/models.py: symptoms, narrative and triage note are encrypted under
the person's key; lot, region and facility are copied from the dose.

Revision ID: 0025_aefi
Revises: 0024_certificate_keys
Create Date: 2026-12-07 14:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0025_aefi"
down_revision = "0024_certificate_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "immunization_aefi_reports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("beneficiary_id", sa.Uuid(), nullable=False),
        sa.Column("dose_id", sa.Uuid(), nullable=True),
        sa.Column("lot_id", sa.Uuid(), nullable=True),
        sa.Column("product_id", sa.String(length=64), nullable=True),
        sa.Column("region_code", sa.String(length=64), nullable=False),
        sa.Column("facility_id", sa.Uuid(), nullable=True),
        sa.Column("reporter_kind", sa.String(length=16), nullable=False),
        sa.Column("reported_by", sa.Uuid(), nullable=True),
        sa.Column("onset_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("serious", sa.Boolean(), nullable=False),
        sa.Column(
            "criteria", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("triaged_by", sa.Uuid(), nullable=True),
        sa.Column("triaged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("symptoms_enc", sa.LargeBinary(), nullable=True),
        sa.Column("narrative_enc", sa.LargeBinary(), nullable=True),
        sa.Column("triage_note_enc", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('recovered', 'recovering', 'not-recovered', "
            "'recovered-with-sequelae', 'fatal', 'unknown')",
            name=op.f("ck_immunization_aefi_reports_outcome_known"),
        ),
        sa.CheckConstraint(
            "reporter_kind IN ('staff', 'citizen')",
            name=op.f("ck_immunization_aefi_reports_reporter_known"),
        ),
        sa.CheckConstraint(
            "status IN ('reported', 'triaged', 'closed')",
            name=op.f("ck_immunization_aefi_reports_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["dose_id"],
            ["immunization_doses.id"],
            name=op.f("fk_immunization_aefi_reports_dose_id_immunization_doses"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"],
            ["immunization_lots.id"],
            name=op.f("fk_immunization_aefi_reports_lot_id_immunization_lots"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_immunization_aefi_reports_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_immunization_aefi_reports")),
    )
    with op.batch_alter_table("immunization_aefi_reports", schema=None) as batch_op:
        batch_op.create_index(
            "ix_immunization_aefi_reports_beneficiary", ["tenant_id", "beneficiary_id"]
        )
        batch_op.create_index(
            "ix_immunization_aefi_reports_lot", ["tenant_id", "lot_id", "serious"]
        )
        batch_op.create_index("ix_immunization_aefi_reports_region", ["tenant_id", "region_code"])


def downgrade() -> None:
    with op.batch_alter_table("immunization_aefi_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_immunization_aefi_reports_region")
        batch_op.drop_index("ix_immunization_aefi_reports_lot")
        batch_op.drop_index("ix_immunization_aefi_reports_beneficiary")
    op.drop_table("immunization_aefi_reports")
