"""certificates: trust lists (foreign DSCs, SHC issuers, revocation entries) and the
installation's trust-list signing key

See certificates/trust/models.py.

Revision ID: 0026_trust
Revises: 0025_aefi
Create Date: 2026-12-07 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0026_trust"
down_revision = "0025_aefi"
branch_labels = None
depends_on = None

JSONDoc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants")
    )


def upgrade() -> None:
    op.create_table(
        "trust_dscs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("certificate", sa.LargeBinary(), nullable=False),
        sa.Column("not_before", TS, nullable=False),
        sa.Column("not_after", TS, nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _tenant_fk("trust_dscs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_dscs")),
        sa.UniqueConstraint(
            "tenant_id", "fingerprint", name=op.f("uq_trust_dscs_tenant_id_fingerprint")
        ),
    )
    op.create_index(op.f("ix_trust_dscs_kid"), "trust_dscs", ["kid"])
    op.create_table(
        "trust_shc_issuers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("iss", sa.String(length=500), nullable=False),
        sa.Column("jwks", JSONDoc, nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        _tenant_fk("trust_shc_issuers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_shc_issuers")),
        sa.UniqueConstraint("tenant_id", "iss", name=op.f("uq_trust_shc_issuers_tenant_id_iss")),
    )
    op.create_table(
        "trust_revocations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("iss", sa.String(length=500), nullable=False),
        sa.Column("kid", sa.String(length=100), nullable=False),
        sa.Column("entry", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _tenant_fk("trust_revocations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_revocations")),
        sa.UniqueConstraint(
            "tenant_id",
            "kind",
            "iss",
            "kid",
            "entry",
            name=op.f("uq_trust_revocations_tenant_id_kind_iss_kid_entry"),
        ),
    )
    op.create_table(
        "trust_list_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("public_jwk", JSONDoc, nullable=False),
        sa.Column("private_key_wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("provider_key_id", sa.String(length=300), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trust_list_keys")),
        sa.UniqueConstraint("kid", name=op.f("uq_trust_list_keys_kid")),
    )


def downgrade() -> None:
    op.drop_table("trust_list_keys")
    op.drop_table("trust_revocations")
    op.drop_table("trust_shc_issuers")
    op.drop_index(op.f("ix_trust_dscs_kid"), table_name="trust_dscs")
    op.drop_table("trust_dscs")
