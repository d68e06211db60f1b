"""scheduling: release tickets and draws, waitlist entries, the held-appointment expiry index

Fairness under surge (see scheduling/release.py and scheduling/waitlist.py).

Revision ID: 0019_scheduling_fairness
Revises: 0018_idempotency_unkept
Create Date: 2026-12-07 11:02:28.206555
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_scheduling_fairness"
down_revision = "0018_idempotency_unkept"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduling_waitlist_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("beneficiary_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("home_region_code", sa.String(length=64), nullable=False),
        sa.Column("home_facility_id", sa.Uuid(), nullable=True),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("region_code", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("from_day", sa.Date(), nullable=False),
        sa.Column("to_day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("offers", sa.Integer(), nullable=False),
        sa.Column("ended_reason", sa.String(length=32), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('waiting', 'offered', 'booked', 'lapsed', 'declined', 'closed', 'cancelled')",
            name=op.f("ck_scheduling_waitlist_entries_status_known"),
        ),
        sa.CheckConstraint(
            "to_day >= from_day", name=op.f("ck_scheduling_waitlist_entries_days_in_order")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_scheduling_waitlist_entries_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduling_waitlist_entries")),
    )
    with op.batch_alter_table("scheduling_waitlist_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_scheduling_waitlist_entries_account", ["tenant_id", "account_id"], unique=False
        )
        batch_op.create_index(
            "ix_scheduling_waitlist_entries_appointment", ["appointment_id"], unique=False
        )
        batch_op.create_index(
            "ix_scheduling_waitlist_entries_beneficiary",
            ["tenant_id", "beneficiary_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_scheduling_waitlist_entries_queue",
            ["tenant_id", "product_id", "region_code", "created_at"],
            unique=False,
            postgresql_where=sa.text("status = 'waiting'"),
            sqlite_where=sa.text("status = 'waiting'"),
        )
        batch_op.create_index(
            "uq_scheduling_waitlist_entries_live",
            ["tenant_id", "beneficiary_id", "product_id"],
            unique=True,
            postgresql_where=sa.text("status IN ('waiting', 'offered')"),
            sqlite_where=sa.text("status IN ('waiting', 'offered')"),
        )

    op.create_table(
        "scheduling_release_draws",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.Column("winners", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["scheduling_sessions.id"],
            name=op.f("fk_scheduling_release_draws_session_id_scheduling_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_scheduling_release_draws_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_scheduling_release_draws")),
    )
    op.create_table(
        "scheduling_release_tickets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("beneficiary_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("home_region_code", sa.String(length=64), nullable=False),
        sa.Column("home_facility_id", sa.Uuid(), nullable=True),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("wants_waitlist", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("appointment_id", sa.Uuid(), nullable=True),
        sa.Column("waitlist_entry_id", sa.Uuid(), nullable=True),
        sa.Column("draw_position", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('booked', 'waitlisted', 'full', 'ineligible')",
            name=op.f("ck_scheduling_release_tickets_outcome_known"),
        ),
        sa.CheckConstraint(
            "status IN ('waiting', 'won', 'lost')",
            name=op.f("ck_scheduling_release_tickets_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["scheduling_sessions.id"],
            name=op.f("fk_scheduling_release_tickets_session_id_scheduling_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_scheduling_release_tickets_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduling_release_tickets")),
        sa.UniqueConstraint(
            "tenant_id",
            "session_id",
            "beneficiary_id",
            name=op.f("uq_scheduling_release_tickets_tenant_id_session_id_beneficiary_id"),
        ),
    )
    with op.batch_alter_table("scheduling_release_tickets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_scheduling_release_tickets_account", ["tenant_id", "account_id"], unique=False
        )
        batch_op.create_index(
            "ix_scheduling_release_tickets_beneficiary",
            ["tenant_id", "beneficiary_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_scheduling_release_tickets_session_status", ["session_id", "status"], unique=False
        )

    with op.batch_alter_table("scheduling_appointments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_scheduling_appointments_hold_expiry",
            ["tenant_id", "hold_expires_at"],
            unique=False,
            postgresql_where=sa.text("status = 'held'"),
            sqlite_where=sa.text("status = 'held'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("scheduling_appointments", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_scheduling_appointments_hold_expiry",
            postgresql_where=sa.text("status = 'held'"),
            sqlite_where=sa.text("status = 'held'"),
        )

    with op.batch_alter_table("scheduling_release_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_scheduling_release_tickets_session_status")
        batch_op.drop_index("ix_scheduling_release_tickets_beneficiary")
        batch_op.drop_index("ix_scheduling_release_tickets_account")

    op.drop_table("scheduling_release_tickets")
    op.drop_table("scheduling_release_draws")
    with op.batch_alter_table("scheduling_waitlist_entries", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_scheduling_waitlist_entries_live",
            postgresql_where=sa.text("status IN ('waiting', 'offered')"),
            sqlite_where=sa.text("status IN ('waiting', 'offered')"),
        )
        batch_op.drop_index(
            "ix_scheduling_waitlist_entries_queue",
            postgresql_where=sa.text("status = 'waiting'"),
            sqlite_where=sa.text("status = 'waiting'"),
        )
        batch_op.drop_index("ix_scheduling_waitlist_entries_beneficiary")
        batch_op.drop_index("ix_scheduling_waitlist_entries_appointment")
        batch_op.drop_index("ix_scheduling_waitlist_entries_account")

    op.drop_table("scheduling_waitlist_entries")
