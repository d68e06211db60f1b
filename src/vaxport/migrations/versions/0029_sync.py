"""immunization: the review queue of offline sync (a synced dose meeting one recorded meanwhile)

See immunization/sync/models.py: the record as the device sent it and the resolver's
reason are encrypted under the person's key; one row per tenant and client record UUID.

Revision ID: 0029_sync
Revises: 0028_certificates
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029_sync"
down_revision = "0028_certificates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "immunization_sync_conflicts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("submitted_by", sa.Uuid(), nullable=True),
        sa.Column("beneficiary_id", sa.Uuid(), nullable=False),
        sa.Column("existing_dose_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("series", sa.String(length=64), nullable=False),
        sa.Column("dose_number", sa.Integer(), nullable=False),
        sa.Column("administered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("device_recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("region_code", sa.String(length=64), nullable=False),
        sa.Column("facility_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.Column("resolved_by", sa.Uuid(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_dose_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record_enc", sa.LargeBinary(), nullable=True),
        sa.Column("resolution_reason_enc", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint(
            "resolution IS NULL OR resolution IN ('keep-existing', 'record-as-next', 'discard')",
            name=op.f("ck_immunization_sync_conflicts_resolution_known"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'resolved')",
            name=op.f("ck_immunization_sync_conflicts_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["existing_dose_id"],
            ["immunization_doses.id"],
            name=op.f("fk_immunization_sync_conflicts_existing_dose_id_immunization_doses"),
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_immunization_sync_conflicts_facility_id_facilities"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_immunization_sync_conflicts_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_immunization_sync_conflicts")),
        sa.UniqueConstraint(
            "tenant_id",
            "client_id",
            name=op.f("uq_immunization_sync_conflicts_tenant_id_client_id"),
        ),
    )
    with op.batch_alter_table("immunization_sync_conflicts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_immunization_sync_conflicts_open", ["tenant_id", "status", "region_code"]
        )


def downgrade() -> None:
    with op.batch_alter_table("immunization_sync_conflicts", schema=None) as batch_op:
        batch_op.drop_index("ix_immunization_sync_conflicts_open")
    op.drop_table("immunization_sync_conflicts")
