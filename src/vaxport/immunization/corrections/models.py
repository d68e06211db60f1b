"""The table of corrections: void requests, the first half of a two-person void.

A dose that already has a certificate is voided by two people: one asks (a row here,
``pending``, with the dose's ``version`` as they read it and their reason, encrypted
under the person's key), another approves (``approved``: the dose is voided in the same
transaction); a request on a version the dose has left is ``superseded`` by the next
one asked. One pending request per dose (a partial unique index), so two people asking
at once make one request.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from vaxport.core.clock import utcnow
from vaxport.core.crypto import encrypted
from vaxport.core.db import Base
from vaxport.core.ids import uuid7

VOID_REQUEST_STATUSES = ("pending", "approved", "superseded")
_PENDING_SQL = "status = 'pending'"


class DoseVoidRequest(Base):
    """A request to void a dose with a certificate, waiting for a second person."""

    __tablename__ = "immunization_dose_void_requests"
    __table_args__ = (
        Index(
            "uq_immunization_dose_void_requests_pending",
            "tenant_id",
            "dose_id",
            unique=True,
            postgresql_where=text(_PENDING_SQL),
            sqlite_where=text(_PENDING_SQL),
        ),
        CheckConstraint("status IN ('pending', 'approved', 'superseded')", name="status_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    dose_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("immunization_doses.id"))
    beneficiary_id: Mapped[uuid.UUID] = mapped_column()
    # The dose's version the requester read: approval voids that version, no other.
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    reason = encrypted("text", subject="beneficiary_id")
    requested_by: Mapped[uuid.UUID] = mapped_column()
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    approved_by: Mapped[uuid.UUID | None] = mapped_column()
    approved_at: Mapped[dt.datetime | None] = mapped_column()
