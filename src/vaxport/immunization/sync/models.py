"""The review queue of offline sync: a synced dose that met a dose recorded meanwhile.

A device offline for hours may record a dose the person was given elsewhere in the
meantime (online at another centre): the same person, series and dose number. The
record is not written over the existing dose: it waits here, beside that dose, for staff
to decide (keep the existing one, record it as the person's next dose, or discard it).
``client_id`` is the device's UUID for the record: unique per tenant, so a resent record
finds its conflict. What the device sent (notes, an override's reason included) and the
resolver's reason are encrypted under the person's key. ``region_code`` and
``facility_id`` are the centre the device recorded at: who reaches them resolves.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vaxport.core.clock import utcnow
from vaxport.core.crypto import encrypted
from vaxport.core.db import Base
from vaxport.core.ids import uuid7

CONFLICT_STATUSES = ("open", "resolved")
RESOLUTIONS = ("keep-existing", "record-as-next", "discard")


class SyncConflict(Base):
    """A synced dose held for review beside the dose recorded meanwhile."""

    __tablename__ = "immunization_sync_conflicts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "client_id"),
        Index("ix_immunization_sync_conflicts_open", "tenant_id", "status", "region_code"),
        CheckConstraint("status IN ('open', 'resolved')", name="status_known"),
        CheckConstraint(
            "resolution IS NULL OR resolution IN ('keep-existing', 'record-as-next', 'discard')",
            name="resolution_known",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    client_id: Mapped[uuid.UUID] = mapped_column()
    device_id: Mapped[str] = mapped_column(String(128))
    submitted_by: Mapped[uuid.UUID | None] = mapped_column()
    beneficiary_id: Mapped[uuid.UUID] = mapped_column()
    existing_dose_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("immunization_doses.id"))
    product_id: Mapped[str] = mapped_column(String(64))
    series: Mapped[str] = mapped_column(String(64))
    dose_number: Mapped[int] = mapped_column(Integer)
    administered_at: Mapped[dt.datetime] = mapped_column()
    device_recorded_at: Mapped[dt.datetime] = mapped_column()
    region_code: Mapped[str] = mapped_column(String(64))
    facility_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("facilities.id"))
    # The dose fields as the device sent them (a DoseFields document).
    record = encrypted("json", subject="beneficiary_id")
    status: Mapped[str] = mapped_column(String(16), default="open")
    resolution: Mapped[str | None] = mapped_column(String(16))
    resolution_reason = encrypted("text", subject="beneficiary_id")
    resolved_by: Mapped[uuid.UUID | None] = mapped_column()
    resolved_at: Mapped[dt.datetime | None] = mapped_column()
    # The dose recorded from the record ("record-as-next": its id is ``client_id``).
    resolved_dose_id: Mapped[uuid.UUID | None] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
