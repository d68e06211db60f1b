"""Operational endpoints: liveness, readiness, Prometheus metrics, bench no-ops."""

from __future__ import annotations

import hmac
import time

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text
from starlette.responses import Response

from vaxport.core.errors import NotFound, ServiceUnavailable, Unauthorized
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.i18n import N_
from vaxport.core.metrics import DB_POOL_CHECKED_OUT, DB_POOL_SIZE
from vaxport.core.outbox import refresh_metrics
from vaxport.settings import Settings

router = APIRouter(tags=["operations"])
bench_router = APIRouter(tags=["bench"], include_in_schema=False)


class Status(BaseModel):
    status: str
    checks: dict[str, str] = {}


@router.get("/healthz", dependencies=[requires("ops:health", public=True)])
async def healthz() -> Status:
    """The process is up (no dependencies checked)."""
    return Status(status="ok")


@router.get("/readyz", dependencies=[requires("ops:health", public=True)])
async def readyz(ctx: Ctx) -> Status:
    """The database and the cache answer; 503 otherwise (take me out of rotation)."""
    checks: dict[str, str] = {}
    try:
        async with ctx.db.read() as session:
            await session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - readiness reports failures, never raises them
        checks["database"] = f"error: {type(exc).__name__}"
    checks["cache"] = "ok" if await ctx.cache.ping() else "error: unreachable"
    if any(v != "ok" for v in checks.values()):
        raise ServiceUnavailable(N_("not ready"), checks=checks)
    return Status(status="ok", checks=checks)


# The outbox gauges read the database; a scrape reuses a reading this recent, so a
# scraper (or anyone) calling /metrics in a loop cannot make it query per request. The
# time of the last reading is kept on the app (one per process), not in a module global.
GAUGES_MAX_AGE_SECONDS = 30.0


def _check_metrics_access(request: Request, settings: Settings) -> None:
    token = settings.metrics_token.get_secret_value()
    if not token:
        if settings.env == "production":
            raise NotFound(N_("not found"))
        return
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(), token.encode()):
        raise Unauthorized(N_("/metrics needs its bearer token (VAXPORT_METRICS_TOKEN)"))


@router.get("/metrics", dependencies=[requires("ops:metrics", public=True)])
async def metrics(ctx: Ctx, request: Request) -> Response:
    """Prometheus exposition of this process' metrics (token-guarded when configured)."""
    _check_metrics_access(request, ctx.settings)
    pool = ctx.db.engine.sync_engine.pool
    checked_out = getattr(pool, "checkedout", None)
    size = getattr(pool, "size", None)
    if callable(checked_out):
        DB_POOL_CHECKED_OUT.set(checked_out())
    if callable(size):
        DB_POOL_SIZE.set(size())
    now = time.monotonic()
    state = request.app.state
    last: float | None = getattr(state, "outbox_gauges_read_at", None)
    if last is None or now - last >= GAUGES_MAX_AGE_SECONDS:
        state.outbox_gauges_read_at = now
        await refresh_metrics(ctx.db)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class Empty(BaseModel):
    ok: bool = True


@bench_router.get("/bench/noop", dependencies=[requires("bench:noop", public=True)])
async def bench_noop_get() -> Empty:
    """A GET through the full production stack doing nothing: the bench ceiling."""
    return Empty()


# Class "default" (not "write"): the ceiling is measured from one address at thousands of
# requests a second; its limits are whatever VAXPORT_RATE_LIMIT_DEFAULT_* say (unlimited).
@bench_router.post(
    "/bench/noop", dependencies=[requires("bench:noop", public=True, rate="default")]
)
async def bench_noop_post() -> Empty:
    """A POST through the full production stack doing nothing: the bench ceiling."""
    return Empty()
