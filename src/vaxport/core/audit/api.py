"""HTTP routes of the audit log (read-only, for auditors)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from vaxport.core.audit import service
from vaxport.core.audit.schemas import AuditPageOut, AuditQuery
from vaxport.core.http import Ctx, requires
from vaxport.tenancy.service import get_tenant_or_404

router = APIRouter(tags=["audit"])


@router.get("/api/v1/{tenant}/audit", dependencies=[requires("audit:read")])
async def list_audit_entries(
    tenant: str, ctx: Ctx, query: Annotated[AuditQuery, Query()]
) -> AuditPageOut:
    """The tenant's audit entries, newest first, filtered; cursor-paginated."""
    found = await get_tenant_or_404(db=ctx.db, cache=ctx.cache, code=tenant)
    page = await service.list_entries(db=ctx.db, tenant_id=found.id, **query.model_dump())
    return AuditPageOut.model_validate(page, from_attributes=True)
