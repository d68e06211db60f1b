"""HTTP routes guarding account recovery: the undo, and support's list of recoveries."""

from __future__ import annotations

import uuid
from dataclasses import asdict

from fastapi import APIRouter, Request, Response

from vaxport.core.http.dependencies import Ctx, requires
from vaxport.identity.access.edge import CurrentActor, PathTenant, client_ip
from vaxport.identity.access.edge import no_store as _no_store
from vaxport.identity.login import recovery_guard
from vaxport.identity.schemas import RecoveryListOut, RecoveryOut, RecoveryUndoIn, RecoveryUndoOut

router = APIRouter(tags=["identity"])


@router.post(
    "/api/v1/{tenant}/auth/recovery/undo",
    dependencies=[requires("auth:recover", public=True, rate="login")],
)
async def undo_recovery(
    *, body: RecoveryUndoIn, tenant: PathTenant, ctx: Ctx, request: Request, response: Response
) -> RecoveryUndoOut:
    """Undo a recovery with the code sent to the old phone and e-mail (once)."""
    _no_store(response)
    await recovery_guard.undo(
        db=ctx.db,
        cache=ctx.cache,
        settings=ctx.settings,
        tenant=tenant,
        code=body.code,
        client_ip=client_ip(request),
    )
    return RecoveryUndoOut(status="undone")


@router.get(
    "/api/v1/{tenant}/accounts/{account_id}/recoveries",
    dependencies=[requires("accounts:recoveries")],
)
async def list_recoveries(
    tenant: PathTenant, account_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> RecoveryListOut:
    """A citizen account's recent recoveries: method, who was told, hold, undone."""
    found = await recovery_guard.list_recoveries(
        db=ctx.db, tenant=tenant, actor=actor, account_id=account_id
    )
    return RecoveryListOut(items=[RecoveryOut(**asdict(r)) for r in found])
