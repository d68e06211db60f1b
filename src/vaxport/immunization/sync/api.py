"""HTTP routes of offline sync: ``/api/v1/{tenant}/sync/...``.

A device uploads up to 5,000 records in one request: the route reads its own body under
``VAXPORT_SYNC_MAX_BYTES`` (413 beyond, before parsing; the route is declared an upload
so the ordinary 1 MiB cap does not cut it first), checks the envelope, and answers 200
with one result per record. The review queue is read and resolved by staff with
``doses:write`` over the centre the device recorded at.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from vaxport.core.errors import (
    UnsupportedMediaType,
)
from vaxport.core.http import json_body
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.i18n import N_
from vaxport.identity.service import CurrentActor, PathTenant
from vaxport.immunization.sync import batch, conflicts
from vaxport.immunization.sync.schemas import (
    ConflictListQuery,
    ConflictOut,
    ConflictPage,
    ResolveIn,
    SyncBatchIn,
    SyncBatchOut,
    SyncEnvelope,
)

router = APIRouter(tags=["sync"])

UPLOAD = requires("doses:write", upload=True)
WRITE = requires("doses:write")
BASE = "/api/v1/{tenant}/sync"


def _inlined(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with its ``#/$defs/...`` references replaced by what they name (the body
    is documented in ``openapi_extra``, where the model's ``$defs`` would not resolve)."""
    if isinstance(node, list):
        return [_inlined(x, defs) for x in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _inlined(defs[ref.removeprefix("#/$defs/")], defs)
    return {
        k: _inlined(v, defs)
        for k, v in node.items()
        if k not in ("$defs", "discriminator")  # oneOf says it; its mapping names $defs
    }


def _batch_body() -> dict[str, Any]:
    schema = SyncBatchIn.model_json_schema()
    example = schema.get("examples", [None])[0]
    content: dict[str, Any] = {"schema": _inlined(schema, schema.get("$defs", {}))}
    if example is not None:
        content["example"] = example
    return {"requestBody": {"required": True, "content": {"application/json": content}}}


_BATCH_BODY = _batch_body()


@router.post(
    BASE + "/batches",
    dependencies=[UPLOAD],
    operation_id="sync_batch",
    summary="Upload an offline device's walk-ins and doses",
    openapi_extra=_BATCH_BODY,
    responses={
        413: {"description": "The batch is larger than VAXPORT_SYNC_MAX_BYTES"},
        415: {"description": "Send application/json"},
        422: {"description": "The envelope is malformed (each record is answered alone)"},
    },
)
async def sync_batch(
    tenant: PathTenant, request: Request, ctx: Ctx, actor: CurrentActor
) -> SyncBatchOut:
    """Each record answered in order: ``accepted``, ``duplicate`` (sent before),
    ``rejected`` (with the reason) or ``conflict`` (queued for review)."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise UnsupportedMediaType(N_("send application/json"))
    raw = await json_body.read_capped(request, ctx.settings.sync_max_bytes)
    envelope = json_body.validated(raw, SyncEnvelope)
    return await batch.apply_batch(db=ctx.db, tenant=tenant, actor=actor, envelope=envelope)


@router.get(
    BASE + "/conflicts",
    dependencies=[WRITE],
    operation_id="list_sync_conflicts",
    summary="Synced doses waiting for review beside a dose recorded meanwhile",
)
async def list_sync_conflicts(
    tenant: PathTenant,
    ctx: Ctx,
    actor: CurrentActor,
    query: Annotated[ConflictListQuery, Query()],
) -> ConflictPage:
    """Entries over centres in the actor's reach, oldest first (``status``, cursor)."""
    return await conflicts.list_conflicts(db=ctx.db, tenant=tenant, actor=actor, query=query)


@router.post(
    BASE + "/conflicts/{conflict_id}/resolve",
    dependencies=[WRITE],
    operation_id="resolve_sync_conflict",
    summary="Resolve a synced dose held for review",
    responses={
        404: {"description": "No such entry in your reach"},
        409: {"description": "Resolved already, or the dose cannot be recorded now"},
        422: {"description": "record-as-next refused by the recording's checks"},
    },
)
async def resolve_sync_conflict(
    tenant: PathTenant, conflict_id: uuid.UUID, body: ResolveIn, ctx: Ctx, actor: CurrentActor
) -> ConflictOut:
    """``keep-existing``, ``record-as-next`` or ``discard``, with a reason (audited)."""
    return await conflicts.resolve(
        db=ctx.db, tenant=tenant, actor=actor, conflict_id=conflict_id, body=body
    )
