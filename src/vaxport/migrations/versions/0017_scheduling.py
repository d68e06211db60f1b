"""scheduling: sessions, their time slots, and appointments (see scheduling/models.py)

Revision ID: 0017_scheduling
Revises: 0016_scoped_read_function
Create Date: 2026-12-07 06:27:41.177321
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017_scheduling"
down_revision = "0016_scoped_read_function"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduling_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("facility_id", sa.Uuid(), nullable=False),
        sa.Column("region_code", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column(
            "dose_numbers", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "eligibility", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("release_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("series_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'closed', 'cancelled')",
            name=op.f("ck_scheduling_sessions_status_known"),
        ),
        sa.CheckConstraint(
            "capacity >= 0", name=op.f("ck_scheduling_sessions_capacity_not_negative")
        ),
        sa.CheckConstraint(
            "ends_at > starts_at", name=op.f("ck_scheduling_sessions_ends_after_start")
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_scheduling_sessions_facility_id_facilities"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_scheduling_sessions_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduling_sessions")),
    )
    with op.batch_alter_table("scheduling_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_scheduling_sessions_tenant_facility_day",
            ["tenant_id", "facility_id", "day"],
            unique=False,
        )
        batch_op.create_index(
            "ix_scheduling_sessions_tenant_region_day",
            ["tenant_id", "region_code", "day"],
            unique=False,
        )

    op.create_table(
        "scheduling_slots",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("facility_id", sa.Uuid(), nullable=False),
        sa.Column("region_code", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'cancelled')", name=op.f("ck_scheduling_slots_status_known")
        ),
        sa.CheckConstraint(
            "capacity >= 0 AND booked >= 0 AND booked <= capacity",
            name=op.f("ck_scheduling_slots_seats"),
        ),
        sa.CheckConstraint(
            "ends_at > starts_at", name=op.f("ck_scheduling_slots_ends_after_start")
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_scheduling_slots_facility_id_facilities"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["scheduling_sessions.id"],
            name=op.f("fk_scheduling_slots_session_id_scheduling_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_scheduling_slots_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduling_slots")),
    )
    with op.batch_alter_table("scheduling_slots", schema=None) as batch_op:
        batch_op.create_index("ix_scheduling_slots_session", ["session_id"], unique=False)
        batch_op.create_index(
            "ix_scheduling_slots_tenant_day_region",
            ["tenant_id", "day", "region_code"],
            unique=False,
        )
        batch_op.create_index(
            "ix_scheduling_slots_tenant_facility_day",
            ["tenant_id", "facility_id", "day"],
            unique=False,
        )

    op.create_table(
        "scheduling_appointments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("beneficiary_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("slot_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("facility_id", sa.Uuid(), nullable=False),
        sa.Column("region_code", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("series", sa.String(length=64), nullable=False),
        sa.Column("dose_number", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("booking_code", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("hold_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("booked_by", sa.Uuid(), nullable=True),
        sa.Column("replaces_id", sa.Uuid(), nullable=True),
        sa.Column("ended_reason", sa.String(length=32), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('held', 'booked', 'cancelled', 'released', 'completed', 'no_show')",
            name=op.f("ck_scheduling_appointments_status_known"),
        ),
        sa.CheckConstraint(
            "dose_number >= 1", name=op.f("ck_scheduling_appointments_dose_number_positive")
        ),
        sa.ForeignKeyConstraint(
            ["facility_id"],
            ["facilities.id"],
            name=op.f("fk_scheduling_appointments_facility_id_facilities"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["scheduling_sessions.id"],
            name=op.f("fk_scheduling_appointments_session_id_scheduling_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["scheduling_slots.id"],
            name=op.f("fk_scheduling_appointments_slot_id_scheduling_slots"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_scheduling_appointments_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduling_appointments")),
        sa.UniqueConstraint(
            "tenant_id",
            "booking_code",
            name=op.f("uq_scheduling_appointments_tenant_id_booking_code"),
        ),
    )
    with op.batch_alter_table("scheduling_appointments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_scheduling_appointments_account", ["tenant_id", "account_id"], unique=False
        )
        batch_op.create_index(
            "ix_scheduling_appointments_beneficiary", ["tenant_id", "beneficiary_id"], unique=False
        )
        batch_op.create_index(
            "ix_scheduling_appointments_facility_day",
            ["tenant_id", "facility_id", "day"],
            unique=False,
        )
        batch_op.create_index("ix_scheduling_appointments_slot", ["slot_id"], unique=False)
        batch_op.create_index(
            "uq_scheduling_appointments_live_dose",
            ["tenant_id", "beneficiary_id", "series", "dose_number"],
            unique=True,
            postgresql_where=sa.text("status IN ('held', 'booked')"),
            sqlite_where=sa.text("status IN ('held', 'booked')"),
        )


def downgrade() -> None:
    with op.batch_alter_table("scheduling_appointments", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_scheduling_appointments_live_dose",
            postgresql_where=sa.text("status IN ('held', 'booked')"),
            sqlite_where=sa.text("status IN ('held', 'booked')"),
        )
        batch_op.drop_index("ix_scheduling_appointments_slot")
        batch_op.drop_index("ix_scheduling_appointments_facility_day")
        batch_op.drop_index("ix_scheduling_appointments_beneficiary")
        batch_op.drop_index("ix_scheduling_appointments_account")

    op.drop_table("scheduling_appointments")
    with op.batch_alter_table("scheduling_slots", schema=None) as batch_op:
        batch_op.drop_index("ix_scheduling_slots_tenant_facility_day")
        batch_op.drop_index("ix_scheduling_slots_tenant_day_region")
        batch_op.drop_index("ix_scheduling_slots_session")

    op.drop_table("scheduling_slots")
    with op.batch_alter_table("scheduling_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_scheduling_sessions_tenant_region_day")
        batch_op.drop_index("ix_scheduling_sessions_tenant_facility_day")

    op.drop_table("scheduling_sessions")
