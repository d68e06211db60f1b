"""Serving the app under test for real: uvicorn in the test's own event loop.

In the same loop the app keeps the test's database and cache (their connections belong
to this loop), while clients outside the process (schemathesis) or httpx over TCP see
a real server: HTTP parsing, access log, headers as on the wire.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serving(app: Any, *, access_log: bool = False) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port; yields its base URL."""
    port = _free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        access_log=access_log,
        log_config=None,  # keep the process' logging (the app's JSON lines) as it is
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn exposes a flag, not an event
        if task.done():
            task.result()  # raises what stopped it
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
