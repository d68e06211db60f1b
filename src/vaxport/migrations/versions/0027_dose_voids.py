"""immunization: two-person void requests; the personal fields a revision replaced

See immunization/corrections/models.py: a void of a dose with a certificate is asked by
one person (a pending request, one per dose) and approved by another. A revision keeps
the notes and override reason it replaced in ``before_personal_enc``, encrypted under the
person's key like the dose's own.

Revision ID: 0027_dose_voids
Revises: 0026_trust
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027_dose_voids"
down_revision = "0026_trust"
branch_labels = None
depends_on = None

_PENDING = "status = 'pending'"


def upgrade() -> None:
    with op.batch_alter_table("immunization_dose_revisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("before_personal_enc", sa.LargeBinary(), nullable=True))
    op.create_table(
        "immunization_dose_void_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("dose_id", sa.Uuid(), nullable=False),
        sa.Column("beneficiary_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.Uuid(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason_enc", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'superseded')",
            name=op.f("ck_immunization_dose_void_requests_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["dose_id"],
            ["immunization_doses.id"],
            name=op.f("fk_immunization_dose_void_requests_dose_id_immunization_doses"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_immunization_dose_void_requests_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_immunization_dose_void_requests")),
    )
    with op.batch_alter_table("immunization_dose_void_requests", schema=None) as batch_op:
        batch_op.create_index(
            "uq_immunization_dose_void_requests_pending",
            ["tenant_id", "dose_id"],
            unique=True,
            postgresql_where=sa.text(_PENDING),
            sqlite_where=sa.text(_PENDING),
        )


def downgrade() -> None:
    with op.batch_alter_table("immunization_dose_void_requests", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_immunization_dose_void_requests_pending",
            postgresql_where=sa.text(_PENDING),
            sqlite_where=sa.text(_PENDING),
        )
    op.drop_table("immunization_dose_void_requests")
    with op.batch_alter_table("immunization_dose_revisions", schema=None) as batch_op:
        batch_op.drop_column("before_personal_enc")
