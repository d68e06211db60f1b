"""Tenant tables: the tenant, its versioned configuration and its region tree."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from vaxport.core.clock import utcnow
from vaxport.core.db import Base, JSONDoc
from vaxport.core.ids import uuid7


class Tenant(Base):
    """A country (or any deployment unit) served by this installation."""

    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Copied out of the config so the landing page lists tenants without reading configs.
    names: Mapped[dict[str, str]] = mapped_column(
        JSONDoc, default=dict, server_default=text("'{}'")
    )
    default_locale: Mapped[str] = mapped_column(String(35), default="en", server_default="en")
    locales: Mapped[list[str]] = mapped_column(JSONDoc, default=list, server_default=text("'[]'"))
    config: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    config_version: Mapped[int] = mapped_column(Integer, default=1)
    config_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TenantConfigVersion(Base):
    """Every configuration load, kept so an operator can see what changed and when."""

    __tablename__ = "tenant_config_versions"
    __table_args__ = (UniqueConstraint("tenant_id", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    config: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    config_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(500))
    loaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# Byte order ("C" collation on PostgreSQL, SQLite's default) so that a subtree is the range
# [path, path with its final "/" replaced by "0"): an index range scan that, unlike LIKE
# 'prefix%', needs no special operator class and survives generic prepared-statement plans.
RegionPath = String(1024).with_variant(String(1024, collation="C"), "postgresql")


class Region(Base):
    """A node of a tenant's administrative region tree, synced from its configuration.

    Regions dropped from the file are deactivated, never deleted: people, facilities and
    doses keep referring to them. ``path`` ("/R1/R1.2/R1.2.3/") makes a subtree one index
    range scan.
    """

    __tablename__ = "regions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        Index("ix_regions_tenant_id_path", "tenant_id", "path"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    code: Mapped[str] = mapped_column(String(64))
    parent_code: Mapped[str | None] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)
    name: Mapped[dict[str, str]] = mapped_column(JSONDoc)
    path: Mapped[str] = mapped_column(RegionPath)
    population: Mapped[dict[str, int]] = mapped_column(JSONDoc, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
