"""certificates: issued certificates (payload encrypted under the person's key) and the
doses withheld from certificates

See certificates/issuance/models.py.

Revision ID: 0028_certificates
Revises: 0027_dose_voids
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0028_certificates"
down_revision = "0027_dose_voids"
branch_labels = None
depends_on = None

JSONDoc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)
SHC_CURRENT = "status = 'current' AND format = 'shc'"
DCC_CURRENT = "status = 'current' AND format = 'eu-dcc'"


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants")
    )


def upgrade() -> None:
    op.create_table(
        "certificates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("beneficiary_id", sa.Uuid(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("dose_id", sa.Uuid(), nullable=True),
        sa.Column("dose_ids", JSONDoc, nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("uvci", sa.String(length=80), nullable=True),
        sa.Column("rid", sa.String(length=32), nullable=True),
        sa.Column("iss", sa.String(length=200), nullable=True),
        sa.Column("issued_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("superseded_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("revocation_reason", sa.String(length=32), nullable=True),
        sa.Column("payload_enc", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "status IN ('current', 'superseded', 'revoked')",
            name=op.f("ck_certificates_status_known"),
        ),
        sa.CheckConstraint(
            "format IN ('eu-dcc', 'shc')", name=op.f("ck_certificates_format_known")
        ),
        _tenant_fk("certificates"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
    )
    op.create_index(
        "ix_certificates_person", "certificates", ["tenant_id", "beneficiary_id", "status"]
    )
    op.create_index("ix_certificates_revoked", "certificates", ["tenant_id", "status", "kid"])
    op.create_index(
        "uq_certificates_current_shc",
        "certificates",
        ["tenant_id", "beneficiary_id"],
        unique=True,
        postgresql_where=sa.text(SHC_CURRENT),
        sqlite_where=sa.text(SHC_CURRENT),
    )
    op.create_index(
        "uq_certificates_current_dcc",
        "certificates",
        ["tenant_id", "beneficiary_id", "dose_id"],
        unique=True,
        postgresql_where=sa.text(DCC_CURRENT),
        sqlite_where=sa.text(DCC_CURRENT),
    )
    op.create_table(
        "certificate_withheld_doses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("beneficiary_id", sa.Uuid(), nullable=False),
        sa.Column("dose_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("lot_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _tenant_fk("certificate_withheld_doses"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_withheld_doses")),
        sa.UniqueConstraint(
            "tenant_id", "dose_id", name=op.f("uq_certificate_withheld_doses_tenant_id_dose_id")
        ),
    )
    op.create_index(
        "ix_certificate_withheld_doses_person",
        "certificate_withheld_doses",
        ["tenant_id", "beneficiary_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_certificate_withheld_doses_person", table_name="certificate_withheld_doses")
    op.drop_table("certificate_withheld_doses")
    op.drop_index("uq_certificates_current_dcc", table_name="certificates")
    op.drop_index("uq_certificates_current_shc", table_name="certificates")
    op.drop_index("ix_certificates_revoked", table_name="certificates")
    op.drop_index("ix_certificates_person", table_name="certificates")
    op.drop_table("certificates")
