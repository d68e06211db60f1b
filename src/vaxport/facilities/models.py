"""Facility tables: the vaccination centres of a tenant and the vaccines each offers."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from vaxport.core.clock import utcnow
from vaxport.core.db import Base, JSONDoc
from vaxport.core.ids import uuid7

FACILITY_TYPES = ("public", "private", "mobile", "outreach")
# Byte order on PostgreSQL (as SQLite compares): a postal-code prefix is then the range
# [key, key with its last character bumped), whatever the database's locale.
PostalKey = String(20).with_variant(String(20, collation="C"), "postgresql")


class Facility(Base):
    """A vaccination centre (or mobile / outreach unit) of one tenant.

    Never deleted: doses, sessions and reports refer to it; ``active = false`` hides it.
    ``ux/uy/uz`` are the unit vector of (latitude, longitude), kept for distance queries
    (see ``facilities/geo.py``); ``search_text`` is the case- and accent-folded code and
    names, for the text filter; ``postal_key`` the postal code without spaces or dashes.
    """

    __tablename__ = "facilities"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        Index("ix_facilities_tenant_id_region_code", "tenant_id", "region_code"),
        Index("ix_facilities_tenant_id_postal_key", "tenant_id", "postal_key"),
        # A latitude band (z = sin(lat)) is the prefilter of every "near a point" query.
        Index("ix_facilities_tenant_id_uz", "tenant_id", "uz"),
        CheckConstraint("type IN ('public', 'private', 'mobile', 'outreach')", name="type_known"),
        CheckConstraint(
            "(latitude IS NULL AND longitude IS NULL AND ux IS NULL AND uy IS NULL "
            "AND uz IS NULL) OR (latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180 "
            "AND ux IS NOT NULL AND uy IS NOT NULL AND uz IS NOT NULL)",
            name="location_complete",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[dict[str, str]] = mapped_column(JSONDoc)
    type: Mapped[str] = mapped_column(String(16))
    region_code: Mapped[str] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(500))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    postal_key: Mapped[str | None] = mapped_column(PostalKey)
    latitude: Mapped[float | None] = mapped_column(Double)
    longitude: Mapped[float | None] = mapped_column(Double)
    ux: Mapped[float | None] = mapped_column(Double)
    uy: Mapped[float | None] = mapped_column(Double)
    uz: Mapped[float | None] = mapped_column(Double)
    opening_hours: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    accessibility: Mapped[dict[str, str] | None] = mapped_column(JSONDoc)
    # The read copy of facility_vaccines (which is what filters use).
    vaccines: Mapped[list[str]] = mapped_column(JSONDoc)
    daily_capacity: Mapped[int | None] = mapped_column(Integer)
    stations: Mapped[int | None] = mapped_column(Integer)
    search_text: Mapped[str] = mapped_column(String(2000))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    deactivated_at: Mapped[dt.datetime | None] = mapped_column()


class FacilityVaccine(Base):
    """A vaccine product a facility offers: the index behind the ``vaccine`` filter."""

    __tablename__ = "facility_vaccines"
    __table_args__ = (
        Index(
            "ix_facility_vaccines_tenant_id_product_id", "tenant_id", "product_id", "facility_id"
        ),
    )

    facility_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("facilities.id"), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
