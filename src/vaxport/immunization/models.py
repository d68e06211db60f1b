"""Immunization tables: vaccine lots and the dose records given from them.

A dose record (``immunization_doses``) is the legal and clinical fact: certificates,
due dates, reminders and coverage derive from it. Its ``id`` may be chosen by the
client (an offline device's UUID), so a resent record is recognised, never doubled.
``series`` is the disease the dose counts toward (the schedule engine's series key) and
a partial unique index allows one *recorded* dose per person, series and dose number:
the same dose twice is refused by the database whatever the interleaving. A correction
or a void never deletes: the row changes at a new ``version`` and the revision before it
is kept in ``immunization_dose_revisions`` (append-only); a void sets ``status =
'voided'`` and frees the dose number.

``region_code`` and ``facility_id`` are copied from the facility so scope checks need no
join; the notes and an override's reason are encrypted under the person's subject key.
There is no foreign key to the person: erasure is refused once a person has a dose
(``vaccinated_at`` is set in the dose's own transaction), and merged people keep their
records under their old id (the history of a survivor reads the merged ids too).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    Boolean,
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
from vaxport.core.crypto import encrypted
from vaxport.core.db import Base, JSONDoc
from vaxport.core.ids import uuid7

DOSE_STATUSES = ("recorded", "voided")
# Where the record came from: the console or API online, or an offline device's batch.
DOSE_SOURCES = ("online", "offline")
# WHO's routes of administration and common sites, as short codes (docs/immunization.md).
ROUTES = ("IM", "SC", "ID", "PO", "IN")
SITES = ("left-arm", "right-arm", "left-thigh", "right-thigh", "mouth", "nose", "other")
_RECORDED_SQL = "status = 'recorded'"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class Lot(Base):
    """A manufacturer's lot of one product: what a dose is drawn from.

    ``on_hold`` stops new doses from the lot (a recall, a quality hold, a lot flagged by
    serious adverse events); ``flagged_at`` is set when serious AEFI reports reach the
    tenant's threshold, so admins decide on a hold.
    """

    __tablename__ = "immunization_lots"
    __table_args__ = (
        UniqueConstraint("tenant_id", "product_id", "lot_number"),
        CheckConstraint("doses_per_vial IS NULL OR doses_per_vial >= 1", name="vial_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    product_id: Mapped[str] = mapped_column(String(64))
    # Normalised: trimmed, upper-case (printed lot numbers are read aloud and retyped).
    lot_number: Mapped[str] = mapped_column(String(64))
    manufacturer: Mapped[str] = mapped_column(String(200))
    expires_on: Mapped[dt.date] = mapped_column(Date)
    doses_per_vial: Mapped[int | None] = mapped_column(Integer)
    on_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    hold_reason: Mapped[str | None] = mapped_column(String(500))
    flagged_at: Mapped[dt.datetime | None] = mapped_column()
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Dose(Base):
    """One dose given to one person (or the record of it, voided)."""

    __tablename__ = "immunization_doses"
    __table_args__ = (
        Index(
            "uq_immunization_doses_recorded",
            "tenant_id",
            "beneficiary_id",
            "series",
            "dose_number",
            unique=True,
            postgresql_where=text(_RECORDED_SQL),
            sqlite_where=text(_RECORDED_SQL),
        ),
        Index("ix_immunization_doses_beneficiary", "tenant_id", "beneficiary_id"),
        Index("ix_immunization_doses_lot", "tenant_id", "lot_id"),
        Index("ix_immunization_doses_facility_day", "tenant_id", "facility_id", "day"),
        Index("ix_immunization_doses_region_day", "tenant_id", "region_code", "day"),
        CheckConstraint(_in("status", DOSE_STATUSES), name="status_known"),
        CheckConstraint(_in("source", DOSE_SOURCES), name="source_known"),
        CheckConstraint("dose_number >= 1", name="dose_number_positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    beneficiary_id: Mapped[uuid.UUID] = mapped_column()
    product_id: Mapped[str] = mapped_column(String(64))
    series: Mapped[str] = mapped_column(String(64))
    dose_number: Mapped[int] = mapped_column(Integer)
    lot_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("immunization_lots.id"))
    administered_at: Mapped[dt.datetime] = mapped_column()
    # The tenant-local date of ``administered_at``: what intervals and reports count in.
    day: Mapped[dt.date] = mapped_column(Date)
    facility_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("facilities.id"))
    region_code: Mapped[str] = mapped_column(String(64))
    vaccinator_id: Mapped[uuid.UUID | None] = mapped_column()
    site: Mapped[str | None] = mapped_column(String(16))
    route: Mapped[str | None] = mapped_column(String(8))
    notes = encrypted("text", subject="beneficiary_id")
    appointment_id: Mapped[uuid.UUID | None] = mapped_column()
    # An interval outside the schedule's bounds, given on purpose: the reason is kept.
    overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    override_reason = encrypted("text", subject="beneficiary_id")
    status: Mapped[str] = mapped_column(String(16), default="recorded")
    source: Mapped[str] = mapped_column(String(16), default="online")
    # An offline device's clock when it recorded the dose (``administered_at`` is what
    # the vaccinator entered; this is evidence, not truth).
    device_recorded_at: Mapped[dt.datetime | None] = mapped_column()
    recorded_by: Mapped[uuid.UUID | None] = mapped_column()
    voided_at: Mapped[dt.datetime | None] = mapped_column()
    voided_by: Mapped[uuid.UUID | None] = mapped_column()
    void_reason = encrypted("text", subject="beneficiary_id")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DoseRevision(Base):
    """A dose record as it was before a correction or void: the history kept.

    ``before`` holds the correctable fields (product, series, dose number, lot,
    administered_at, day, site, route, status, override) as they were at ``version``;
    ``before_personal`` the notes and the override's reason as they were (encrypted under
    the person's key, like on the dose); who changed it, who approved (a two-person
    void), when and why.
    """

    __tablename__ = "immunization_dose_revisions"
    __table_args__ = (
        UniqueConstraint("dose_id", "version"),
        {"info": {"append_only": True}},
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    dose_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("immunization_doses.id"))
    beneficiary_id: Mapped[uuid.UUID] = mapped_column()
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))  # "correct" or "void"
    before: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    before_personal = encrypted("json", subject="beneficiary_id")
    reason = encrypted("text", subject="beneficiary_id")
    changed_by: Mapped[uuid.UUID | None] = mapped_column()
    approved_by: Mapped[uuid.UUID | None] = mapped_column()
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
