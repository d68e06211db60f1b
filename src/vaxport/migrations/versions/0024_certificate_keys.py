"""certificates: signing keys per tenant and format (CSCA, DCC Document Signer, SHC issuer)

See certificates/models.py: private keys are stored wrapped by the key provider.

Revision ID: 0024_certificate_keys
Revises: 0023_declared_attributes
Create Date: 2026-12-07 14:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0024_certificate_keys"
down_revision = "0023_declared_attributes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificate_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("alg", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column(
            "public_jwk", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("certificate", sa.LargeBinary(), nullable=True),
        sa.Column("private_key_wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("provider_key_id", sa.String(length=300), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("publish_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_certificate_keys_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_keys")),
        sa.UniqueConstraint(
            "tenant_id", "format", "kid", name=op.f("uq_certificate_keys_tenant_id_format_kid")
        ),
    )
    with op.batch_alter_table("certificate_keys", schema=None) as batch_op:
        batch_op.create_index(
            "uq_certificate_keys_one_active",
            ["tenant_id", "format"],
            unique=True,
            sqlite_where=sa.text("state = 'active'"),
            postgresql_where=sa.text("state = 'active'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("certificate_keys", schema=None) as batch_op:
        batch_op.drop_index("uq_certificate_keys_one_active")
    op.drop_table("certificate_keys")
