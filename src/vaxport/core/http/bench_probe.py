"""Bench mode's view into the server: database round trips per request.

Only in bench mode (``VAXPORT_BENCH_MODE``, refused in production): the app adds
:class:`RoundTripMiddleware` outermost when its database counts round trips
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
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vaxport.core import roundtrips
from vaxport.core.http.dependencies import requires

router = APIRouter(tags=["bench"], include_in_schema=False)


class RoundTripMiddleware:
    """Gives every HTTP request a round-trip trace and adds it to the sums at the end."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        counters = roundtrips.COUNTERS
        method, path = scope["method"], scope["path"]
        trace = counters.start(method, path)
        token = roundtrips.begin_request(trace)
        status = 0

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            roundtrips.end_request(token)
            counters.finish(method, path, trace, status)


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
