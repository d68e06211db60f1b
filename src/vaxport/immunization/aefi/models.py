"""The adverse event reports table: one report of symptoms after one dose.

Symptoms (coded), the narrative and the triage note are health data: encrypted under the
person's own subject key, so erasing the person shreds them with the rest. The dose's
lot, product, region and facility are copied in when the report is made, so scope checks
and the per-lot count of serious reports need no join. Seriousness follows the WHO
criteria; ``serious`` is true exactly when at least one criterion is given.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from vaxport.core.clock import utcnow
from vaxport.core.crypto import encrypted
from vaxport.core.db import Base, JSONDoc
from vaxport.core.ids import uuid7

REPORTER_KINDS = ("staff", "citizen")
STATUSES = ("reported", "triaged", "closed")
# WHO's seriousness criteria for an adverse event following immunization.
CRITERIA = (
    "death",
    "life-threatening",
    "hospitalisation",
    "disability",
    "congenital-anomaly",
    "medically-important",
)
OUTCOMES = (
    "recovered",
    "recovering",
    "not-recovered",
    "recovered-with-sequelae",
    "fatal",
    "unknown",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class AefiReport(Base):
    """An adverse event following immunization, as reported and then triaged."""

    __tablename__ = "immunization_aefi_reports"
    __table_args__ = (
        Index("ix_immunization_aefi_reports_lot", "tenant_id", "lot_id", "serious"),
        Index("ix_immunization_aefi_reports_beneficiary", "tenant_id", "beneficiary_id"),
        Index("ix_immunization_aefi_reports_region", "tenant_id", "region_code"),
        CheckConstraint(_in("reporter_kind", REPORTER_KINDS), name="reporter_known"),
        CheckConstraint(_in("status", STATUSES), name="status_known"),
        CheckConstraint(_in("outcome", OUTCOMES), name="outcome_known"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    beneficiary_id: Mapped[uuid.UUID] = mapped_column()
    dose_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("immunization_doses.id"))
    lot_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("immunization_lots.id"))
    product_id: Mapped[str | None] = mapped_column(String(64))
    region_code: Mapped[str] = mapped_column(String(64))
    facility_id: Mapped[uuid.UUID | None] = mapped_column()
    reporter_kind: Mapped[str] = mapped_column(String(16))
    reported_by: Mapped[uuid.UUID | None] = mapped_column()
    symptoms = encrypted("json", subject="beneficiary_id")
    onset_at: Mapped[dt.datetime] = mapped_column()
    serious: Mapped[bool] = mapped_column(Boolean, default=False)
    criteria: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    outcome: Mapped[str] = mapped_column(String(32), default="unknown")
    narrative = encrypted("text", subject="beneficiary_id")
    status: Mapped[str] = mapped_column(String(16), default="reported")
    triaged_by: Mapped[uuid.UUID | None] = mapped_column()
    triaged_at: Mapped[dt.datetime | None] = mapped_column()
    triage_note = encrypted("text", subject="beneficiary_id")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
