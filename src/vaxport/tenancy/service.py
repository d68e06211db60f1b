"""Tenancy use cases (minimal: resolving a tenant from its path code)."""

from __future__ import annotations

from sqlalchemy import select

from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.errors import NotFound
from vaxport.tenancy.models import Tenant


async def get_tenant_or_404(*, db: Database, cache: Cache, code: str) -> Tenant:
    """The tenant with this code, or a 404 problem."""
    del cache  # the tenancy context's full version caches; this one only looks up
    if not code or len(code) > 32:
        raise NotFound("no such tenant")
    async with db.read() as session:
        tenant = await session.scalar(select(Tenant).where(Tenant.code == code))
        if tenant is not None:
            session.expunge(tenant)  # keep its loaded state past the read's rollback
    if tenant is None:
        raise NotFound("no such tenant")
    return tenant
