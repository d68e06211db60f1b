"""Scheduling tables: sessions a centre publishes, their time slots, and appointments.

The seat count lives on the slot (``capacity``, ``booked``) and a CHECK holds
``0 <= booked <= capacity``: a seat is taken by one conditional ``UPDATE ... SET booked =
booked + 1 WHERE booked < capacity``, never read-then-write, so no interleaving can
oversell. An appointment row is the seat's owner: a slot's ``booked`` counts its live
appointments (``booked`` or ``held``) and the seats used (``completed``, ``no_show``);
cancelled and released ones gave theirs back. A partial unique index allows one live
appointment per person per series and dose number.

Rows copy the facility's region (and the session's product and day) so scope checks and
searches need no join. When a centre's region is corrected, its sessions and slots from
the tenant's local today on, and its appointments of those days or still live, follow
(``sessions/relocation.py``, on ``facility.changed``); the past stays where it happened.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from vaxport.core.clock import utcnow
from vaxport.core.db import Base, JSONDoc
from vaxport.core.ids import uuid7

SESSION_STATUSES = ("open", "closed", "cancelled")
SLOT_STATUSES = ("open", "cancelled")
# booked: a seat is taken; held: a seat is set aside for a waitlist offer until
# ``hold_expires_at``; the rest are over and take no seat.
APPOINTMENT_STATUSES = ("held", "booked", "cancelled", "released", "completed", "no_show")
LIVE_STATUSES = ("held", "booked")
_LIVE_SQL = "status IN ('held', 'booked')"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Session(Base):
    """One vaccination session: a day at a facility for one product and its dose numbers.

    ``starts_at``/``ends_at`` are UTC instants; ``day`` is the session's local date (the
    tenant's time zone), what searches and calendars filter by. ``eligibility`` narrows
    who may book beyond the schedule engine (``min_age``/``max_age`` in years, ``groups``);
    ``release_at`` (optional) opens booking at a set time to a randomized queue.
    ``series_id`` groups the sessions one recurrence rule created.
    """

    __tablename__ = "scheduling_sessions"
    __table_args__ = (
        Index("ix_scheduling_sessions_tenant_facility_day", "tenant_id", "facility_id", "day"),
        Index("ix_scheduling_sessions_tenant_region_day", "tenant_id", "region_code", "day"),
        # The worker's closing of sessions whose day is over reads only the open ones.
        Index(
            "ix_scheduling_sessions_open_day",
            "tenant_id",
            "day",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        CheckConstraint(_in("status", SESSION_STATUSES), name="status_known"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id"))
    region_code: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[str] = mapped_column(String(64))
    dose_numbers: Mapped[list[int]] = mapped_column(JSONDoc)
    eligibility: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    day: Mapped[dt.date] = mapped_column(Date)
    starts_at: Mapped[dt.datetime] = mapped_column()
    ends_at: Mapped[dt.datetime] = mapped_column()
    slot_minutes: Mapped[int] = mapped_column(Integer)
    # The sum of the slots' capacity, set when published. Booked seats are counted on
    # the slots only: a session-wide counter would serialize every booking of the day
    # on one row.
    capacity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="open")
    release_at: Mapped[dt.datetime | None] = mapped_column()
    series_id: Mapped[uuid.UUID | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column()


class Slot(Base):
    """A time slot of a session with its own seats: the unit a person books.

    ``facility_id``, ``region_code``, ``product_id`` and ``day`` are the session's, copied
    so the public search reads one table.
    """

    __tablename__ = "scheduling_slots"
    __table_args__ = (
        Index("ix_scheduling_slots_tenant_day_region", "tenant_id", "day", "region_code"),
        Index("ix_scheduling_slots_tenant_facility_day", "tenant_id", "facility_id", "day"),
        Index("ix_scheduling_slots_session", "session_id"),
        CheckConstraint(_in("status", SLOT_STATUSES), name="status_known"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("capacity >= 0 AND booked >= 0 AND booked <= capacity", name="seats"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scheduling_sessions.id"))
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id"))
    region_code: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[dt.date] = mapped_column(Date)
    starts_at: Mapped[dt.datetime] = mapped_column()
    ends_at: Mapped[dt.datetime] = mapped_column()
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="open")
    version: Mapped[int] = mapped_column(Integer, default=1)


class Appointment(Base):
    """A person's seat in a slot, or what became of it.

    ``series`` is the disease the dose counts toward (the schedule engine's series key),
    so "one live appointment per person per dose" is a unique index. ``booking_code`` is
    random (``core.ids.short_code``), never derived from personal data; unique per tenant.
    ``account_id`` is the citizen account that owns the person (None for people without
    one), ``booked_by`` whoever made the booking (the citizen, or staff).
    """

    __tablename__ = "scheduling_appointments"
    __table_args__ = (
        UniqueConstraint("tenant_id", "booking_code"),
        Index(
            "uq_scheduling_appointments_live_dose",
            "tenant_id",
            "beneficiary_id",
            "series",
            "dose_number",
            unique=True,
            postgresql_where=text(_LIVE_SQL),
            sqlite_where=text(_LIVE_SQL),
        ),
        Index("ix_scheduling_appointments_beneficiary", "tenant_id", "beneficiary_id"),
        Index("ix_scheduling_appointments_account", "tenant_id", "account_id"),
        Index("ix_scheduling_appointments_slot", "slot_id"),
        Index("ix_scheduling_appointments_facility_day", "tenant_id", "facility_id", "day"),
        CheckConstraint(_in("status", APPOINTMENT_STATUSES), name="status_known"),
        CheckConstraint("dose_number >= 1", name="dose_number_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    # No foreign key: erasure deletes the person, then the ``beneficiary.erased``
    # subscriber ends their live appointments (releasing the seats); rows left hold no PII.
    beneficiary_id: Mapped[uuid.UUID] = mapped_column()
    account_id: Mapped[uuid.UUID | None] = mapped_column()
    slot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scheduling_slots.id"))
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scheduling_sessions.id"))
    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id"))
    region_code: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[str] = mapped_column(String(64))
    series: Mapped[str] = mapped_column(String(64))
    dose_number: Mapped[int] = mapped_column(Integer)
    day: Mapped[dt.date] = mapped_column(Date)
    starts_at: Mapped[dt.datetime] = mapped_column()
    booking_code: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="booked")
    hold_expires_at: Mapped[dt.datetime | None] = mapped_column()
    booked_by: Mapped[uuid.UUID | None] = mapped_column()
    # The appointment this one replaced (reschedule) and why it ended, when it did.
    replaces_id: Mapped[uuid.UUID | None] = mapped_column()
    ended_reason: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column()


# Fairness under surge (scheduling/release.py, scheduling/waitlist.py). ---------------

# A hold expiry job finds the holds that lapsed without reading every appointment.
Index(
    "ix_scheduling_appointments_hold_expiry",
    Appointment.tenant_id,
    Appointment.hold_expires_at,
    postgresql_where=text("status = 'held'"),
    sqlite_where=text("status = 'held'"),
)

TICKET_STATUSES = ("waiting", "won", "lost")
# Why a ticket ended as it did: a seat (won), a place on the waitlist, no seat left, or
# the person could no longer book this dose when the draw came.
TICKET_OUTCOMES = ("booked", "waitlisted", "full", "ineligible")
WAITLIST_STATUSES = ("waiting", "offered", "booked", "lapsed", "declined", "closed", "cancelled")
LIVE_WAITLIST = ("waiting", "offered")


class ReleaseTicket(Base):
    """A person's request for a seat of a session released at a set time.

    Requests made in the release window become tickets; when it closes, the draw decides
    them in a random order (``draw_position``). ``home_region_code``/``home_facility_id``/
    ``account_id`` are the person's, copied for scope checks (staff reach the tickets of
    the people they reach; a citizen those of their account). ``wants_waitlist``: a
    losing ticket joins the waitlist for the session's place, day and product.
    """

    __tablename__ = "scheduling_release_tickets"
    __table_args__ = (
        UniqueConstraint("tenant_id", "session_id", "beneficiary_id"),
        Index("ix_scheduling_release_tickets_session_status", "session_id", "status"),
        Index("ix_scheduling_release_tickets_beneficiary", "tenant_id", "beneficiary_id"),
        Index("ix_scheduling_release_tickets_account", "tenant_id", "account_id"),
        CheckConstraint(_in("status", TICKET_STATUSES), name="status_known"),
        CheckConstraint(
            "outcome IS NULL OR " + _in("outcome", TICKET_OUTCOMES), name="outcome_known"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scheduling_sessions.id"))
    beneficiary_id: Mapped[uuid.UUID] = mapped_column()
    account_id: Mapped[uuid.UUID | None] = mapped_column()
    home_region_code: Mapped[str] = mapped_column(String(64))
    home_facility_id: Mapped[uuid.UUID | None] = mapped_column()
    requested_by: Mapped[uuid.UUID | None] = mapped_column()
    wants_waitlist: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    outcome: Mapped[str | None] = mapped_column(String(16))
    appointment_id: Mapped[uuid.UUID | None] = mapped_column()
    waitlist_entry_id: Mapped[uuid.UUID | None] = mapped_column()
    draw_position: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column()


class ReleaseDraw(Base):
    """The draw of a released session, once done: booking is first-come from then on."""

    __tablename__ = "scheduling_release_draws"

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("scheduling_sessions.id"), primary_key=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    drawn_at: Mapped[dt.datetime] = mapped_column()
    tickets: Mapped[int] = mapped_column(Integer)
    winners: Mapped[int] = mapped_column(Integer)


_LIVE_WAITLIST_SQL = _in("status", LIVE_WAITLIST)


class WaitlistEntry(Base):
    """A person waiting for a seat of ``product_id`` in the region subtree ``region_code``
    between ``from_day`` and ``to_day`` (local days, inclusive).

    First come, first served (``created_at``, then ``id``). When a seat frees up the
    first waiting entry whose person may book it is ``offered`` a hold (``appointment_id``);
    accepting books it, letting it lapse passes it on. One live entry per person and
    product. The person's region, facility and account are copied for scope checks.
    """

    __tablename__ = "scheduling_waitlist_entries"
    __table_args__ = (
        Index(
            "uq_scheduling_waitlist_entries_live",
            "tenant_id",
            "beneficiary_id",
            "product_id",
            unique=True,
            postgresql_where=text(_LIVE_WAITLIST_SQL),
            sqlite_where=text(_LIVE_WAITLIST_SQL),
        ),
        Index(
            "ix_scheduling_waitlist_entries_queue",
            "tenant_id",
            "product_id",
            "region_code",
            "created_at",
            postgresql_where=text("status = 'waiting'"),
            sqlite_where=text("status = 'waiting'"),
        ),
        Index("ix_scheduling_waitlist_entries_beneficiary", "tenant_id", "beneficiary_id"),
        Index("ix_scheduling_waitlist_entries_account", "tenant_id", "account_id"),
        Index("ix_scheduling_waitlist_entries_appointment", "appointment_id"),
        CheckConstraint(_in("status", WAITLIST_STATUSES), name="status_known"),
        CheckConstraint("to_day >= from_day", name="days_in_order"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    beneficiary_id: Mapped[uuid.UUID] = mapped_column()
    account_id: Mapped[uuid.UUID | None] = mapped_column()
    home_region_code: Mapped[str] = mapped_column(String(64))
    home_facility_id: Mapped[uuid.UUID | None] = mapped_column()
    requested_by: Mapped[uuid.UUID | None] = mapped_column()
    region_code: Mapped[str] = mapped_column(String(64))
    product_id: Mapped[str] = mapped_column(String(64))
    from_day: Mapped[dt.date] = mapped_column(Date)
    to_day: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    appointment_id: Mapped[uuid.UUID | None] = mapped_column()
    offers: Mapped[int] = mapped_column(Integer, default=0)
    ended_reason: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# The public search's order (``scheduling/search.py``): the coming slots by start time, so
# a page of the nationwide search is an index range read, not a sort of the whole window.
# Only columns a booking never changes: a seat taken stays a heap-only update.
Index("ix_scheduling_slots_tenant_starts", Slot.tenant_id, Slot.starts_at, Slot.id)
