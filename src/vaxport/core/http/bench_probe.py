"""Bench mode's view into the server: database round trips per request.

Only in bench mode (``VAXPORT_BENCH_MODE``, refused in production): the app adds
:class:`RoundTripProbe` to the outermost layer when its database counts round trips
(``core/roundtrips.py``), and the bench reads the sums before and after a run from
``GET /bench/roundtrips``. ``POST /bench/roundtrips/capture`` asks for the statements of
one coming request (with their parameters), read back from ``GET`` on the same path.
Each worker process answers with its own counters and its pid.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.types import Scope

from vaxport.core import roundtrips
from vaxport.core.http.dependencies import requires

router = APIRouter(tags=["bench"], include_in_schema=False)


class RoundTripProbe:
    """Gives every HTTP request a round-trip trace and adds it to the sums at the end.

    Called by the outermost layer (``core.http.middleware.RequestMiddleware``), which
    already wraps ``send`` and knows the status: a layer of its own would add a coroutine
    and a wrapper that production does not have to every request the bench measures.
    """

    def begin(self, scope: Scope) -> tuple[Any, Any]:
        """Start the request's trace (before the app runs)."""
        trace = roundtrips.COUNTERS.start(scope["method"], scope["path"])
        return trace, roundtrips.begin_request(trace)

    def end(self, scope: Scope, begun: tuple[Any, Any], status: int) -> None:
        """Add the trace to the sums (after the app ran, whatever happened)."""
        trace, token = begun
        roundtrips.end_request(token)
        roundtrips.COUNTERS.finish(scope["method"], scope["path"], trace, status)


class Counts(BaseModel):
    pid: int
    enabled: bool
    routes: list[dict[str, Any]]


class CaptureRequest(BaseModel):
    method: str = Field(max_length=10)
    path: str = Field(max_length=2000)
    skip: int = Field(default=0, ge=0, le=100_000)
    count: int = Field(default=2, ge=1, le=10)


class Captured(BaseModel):
    pid: int
    armed: bool
    requests: list[dict[str, Any]] = []


@router.get("/bench/roundtrips", dependencies=[requires("bench:noop", public=True)])
async def bench_round_trips() -> Counts:
    """This worker's round trips and statements per ``(method, path)`` since it started."""
    return Counts(pid=os.getpid(), **roundtrips.COUNTERS.snapshot())


@router.post(
    "/bench/roundtrips/capture",
    dependencies=[requires("bench:noop", public=True, rate="default")],
)
async def bench_capture_arm(body: CaptureRequest) -> Captured:
    """Keep the statements of ``count`` successful ``method path`` after ``skip`` of them."""
    roundtrips.COUNTERS.arm(body.method.upper(), body.path, body.skip, body.count)
    return Captured(pid=os.getpid(), armed=True)


@router.get("/bench/roundtrips/capture", dependencies=[requires("bench:noop", public=True)])
async def bench_capture_read() -> Captured:
    """The requests captured so far."""
    cap = roundtrips.COUNTERS.capture
    return Captured(pid=os.getpid(), armed=cap is not None, requests=cap.results if cap else [])
