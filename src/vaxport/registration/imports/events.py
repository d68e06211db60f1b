"""The outbox subscriber that runs bulk imports in the worker, a slice at a time.

``registration.import_requested`` (payload: ``import_id``, ``actor_role``, ``file_kind``)
is emitted when a file is accepted. The handler works for at most half the handler
timeout, then asks to be called again (``RetryLater(0)``, not counted as a failed
attempt); each call resumes after the rows already written, so a redelivery after a
crash, or a duplicate delivery, neither loses nor repeats work. When the import ends the
kept file is deleted.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from vaxport.core.outbox import Event, HandlerContext, PermanentFailure, RetryLater, Subscriber
from vaxport.registration.imports import importer
from vaxport.registration.imports.service import IMPORT_REQUESTED, upload_path
from vaxport.tenancy.service import get_tenant_by_id

MIN_SLICE_SECONDS = 5.0


async def run_import(event: Event, ctx: HandlerContext) -> None:
    """Work on the import; RetryLater until its file is done (idempotent, resumable)."""
    try:
        import_id = uuid.UUID(str(event.payload["import_id"]))
        role = str(event.payload.get("actor_role", "system"))
        kind = str(event.payload["file_kind"])
    except (KeyError, ValueError) as exc:
        raise PermanentFailure("malformed import event") from exc
    if event.tenant_id is None:
        raise PermanentFailure("import event without a tenant")
    tenant = await get_tenant_by_id(db=ctx.db, cache=ctx.cache, tenant_id=event.tenant_id)
    slice_seconds = max(MIN_SLICE_SECONDS, ctx.settings.outbox_handler_timeout_seconds / 2)
    path = upload_path(ctx.settings, import_id, kind)
    try:
        finished = await importer.run(
            db=ctx.db,
            tenant=tenant,
            import_id=import_id,
            path=path,
            actor_role=role,
            deadline=time.monotonic() + slice_seconds,
        )
    except LookupError as exc:
        raise PermanentFailure("the import no longer exists") from exc
    if not finished:
        raise RetryLater(0, "import continues")
    await asyncio.to_thread(path.unlink, missing_ok=True)


SUBSCRIBERS: tuple[Subscriber, ...] = (
    Subscriber.each("registration.run-import", (IMPORT_REQUESTED,), run_import),
)
