"""HTTP routes of the audit log (read-only, for the tenant's auditors and admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from vaxport.audit import service
from vaxport.audit.schemas import AuditPageOut, AuditQuery
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.identity.service import CurrentActor

router = APIRouter(tags=["audit"])


@router.get("/api/v1/{tenant}/audit", dependencies=[requires("audit:read")])
async def list_audit_entries(
    tenant: str, ctx: Ctx, actor: CurrentActor, query: Annotated[AuditQuery, Query()]
) -> AuditPageOut:
    """The tenant's audit entries, newest first, filtered; cursor-paginated.

    For the tenant's national auditors and admins (``audit:read``); others get 404.
    """
    return await service.list_entries(db=ctx.db, actor=actor, **query.model_dump())
