"""Tenancy use cases needed by the web shell: list the tenants, find one by code.

Minimal stand-in over the existing ``Tenant`` table; the tenancy context's own version
(configuration loading, validation, caching policy) replaces it with the same signatures.
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
_CACHE_NS = "tenant-summary"
_CACHE_SECONDS = 60


@dataclass(frozen=True, slots=True)
class TenantSummary:
    """What pages need to know about a tenant: code, name and languages."""

    code: str
    name: str
    default_locale: str
    locales: tuple[str, ...]


def _summary(code: str, name: str, config: dict[str, Any]) -> TenantSummary:
    raw = config.get("locales") or []
    locales = tuple(str(x) for x in raw if isinstance(x, str) and x) or ("en",)
    default = config.get("default_locale")
    if not isinstance(default, str) or default not in locales:
        default = locales[0]
    return TenantSummary(code=code, name=name, default_locale=default, locales=locales)


async def list_tenants(*, db: Database) -> list[TenantSummary]:
    """Every tenant of the installation, ordered by code."""
    async with db.read() as session:
        rows = (
            await session.execute(
                select(Tenant.code, Tenant.name, Tenant.config).order_by(Tenant.code)
            )
        ).all()
    return [_summary(code, name, config or {}) for code, name, config in rows]


async def get_tenant_or_404(*, db: Database, cache: Cache, code: str) -> TenantSummary:
    """The tenant with ``code`` (briefly cached), or :class:`NotFound`."""
    if not _CODE.match(code):
        raise NotFound("no such tenant")
    cached = await cache.get(_CACHE_NS, code)
    if isinstance(cached, dict):
        return TenantSummary(
            code=cached["code"],
            name=cached["name"],
            default_locale=cached["default_locale"],
            locales=tuple(cached["locales"]),
        )
    async with db.read() as session:
        row = (
            await session.execute(
                select(Tenant.code, Tenant.name, Tenant.config).where(Tenant.code == code)
            )
        ).one_or_none()
    if row is None:
        raise NotFound("no such tenant")
    summary = _summary(row.code, row.name, row.config or {})
    await cache.set(
        _CACHE_NS,
        code,
        {
            "code": summary.code,
            "name": summary.name,
            "default_locale": summary.default_locale,
            "locales": list(summary.locales),
        },
        _CACHE_SECONDS,
    )
    return summary
