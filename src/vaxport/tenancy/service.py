"""Tenancy use cases needed by the web shell: list the tenants, find one by code.

Minimal stand-in over the existing ``Tenant`` table, shaped like the tenancy context's
own version (which replaces it at merge): ``list_tenants`` gives summaries,
``get_tenant_or_404`` gives the tenant with its configuration under ``.config``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.errors import NotFound
from vaxport.tenancy.models import Tenant

_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_CACHE_NS = "tenant-languages"
_CACHE_SECONDS = 60


@dataclass(frozen=True, slots=True)
class TenantSummary:
    """A tenant as the landing page lists it."""

    code: str
    name: str
    default_locale: str
    locales: list[str]


@dataclass(frozen=True, slots=True)
class TenantConfig:
    """The part of a tenant's configuration this stand-in knows: its languages."""

    locales: list[str]
    default_locale: str


@dataclass(frozen=True, slots=True)
class TenantInfo:
    """A tenant and its configuration."""

    code: str
    name: str
    config: TenantConfig


def _languages(config: dict[str, Any]) -> TenantConfig:
    raw = config.get("locales") or []
    locales = [str(x) for x in raw if isinstance(x, str) and x] or ["en"]
    default = config.get("default_locale")
    if not isinstance(default, str) or default not in locales:
        default = locales[0]
    return TenantConfig(locales=locales, default_locale=default)


async def list_tenants(*, db: Database, cache: Cache | None = None) -> list[TenantSummary]:
    """Every tenant of the installation, ordered by code."""
    async with db.read() as session:
        rows = (
            await session.execute(
                select(Tenant.code, Tenant.name, Tenant.config).order_by(Tenant.code)
            )
        ).all()
    summaries = []
    for code, name, config in rows:
        langs = _languages(config or {})
        summaries.append(
            TenantSummary(
                code=code, name=name, default_locale=langs.default_locale, locales=langs.locales
            )
        )
    return summaries


async def get_tenant_or_404(*, db: Database, cache: Cache, code: str) -> TenantInfo:
    """The tenant with ``code`` (briefly cached), or :class:`NotFound`."""
    if not _CODE.match(code):
        raise NotFound("unknown tenant")
    cached = await cache.get(_CACHE_NS, code)
    if isinstance(cached, dict):
        return TenantInfo(
            code=cached["code"], name=cached["name"], config=_languages(cached["config"])
        )
    async with db.read() as session:
        row = (
            await session.execute(
                select(Tenant.code, Tenant.name, Tenant.config).where(Tenant.code == code)
            )
        ).one_or_none()
    if row is None:
        raise NotFound("unknown tenant")
    langs = _languages(row.config or {})
    document = {
        "code": row.code,
        "name": row.name,
        "config": {"locales": langs.locales, "default_locale": langs.default_locale},
    }
    await cache.set(_CACHE_NS, code, document, _CACHE_SECONDS)
    return TenantInfo(code=row.code, name=row.name, config=langs)
