"""An app with one route per class, a stand-in for identity's principal, clients per IP."""

from __future__ import annotations

import socket
import uuid
from typing import Any

import httpx
from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.conftest import REDIS_URL
from vaxport.app import create_app
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.http.dependencies import requires
from vaxport.settings import Settings

PRINCIPAL_HEADER = b"x-test-principal"


class PrincipalFromHeader:
    """Where identity's authentication middleware will sit: sets ``principal_id``.

    Tests name the principal in a header instead of presenting a token; what is under
    test is what the rate limiter does with a principal, not how one is established.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for key, value in scope["headers"]:
                if key == PRINCIPAL_HEADER:
                    scope.setdefault("state", {})["principal_id"] = value.decode()
        await self.app(scope, receive, send)


def build_app(settings: Settings, db: Database, cache: Cache, **changes: Any) -> FastAPI:
    """The real app (real middleware stack) plus one route per route class."""
    app = create_app(settings.model_copy(update=changes), database=db, cache=cache)

    @app.post("/api/v1/{tenant}/t/login", dependencies=[requires("t:l", public=True, rate="login")])
    async def login(tenant: str, body: dict[str, str]) -> dict[str, str]:
        return {"ok": tenant}

    @app.post(
        "/api/v1/{tenant}/t/codes", dependencies=[requires("t:c", public=True, rate="code_request")]
    )
    async def codes(tenant: str) -> dict[str, str]:
        return {"ok": tenant}

    @app.get(
        "/api/v1/{tenant}/t/search",
        dependencies=[requires("t:s", public=True, rate="public_search")],
    )
    async def search(tenant: str) -> dict[str, str]:
        return {"ok": tenant}

    @app.post("/api/v1/{tenant}/t/things", dependencies=[requires("t:w", public=True)])
    async def things(tenant: str, request: Request) -> dict[str, str]:
        return {"ok": tenant}

    # Added last, so outermost: authentication runs before rate limits see the request.
    app.add_middleware(PrincipalFromHeader)
    return app


def client(app: FastAPI, ip: str = "198.51.100.7", base: str = "http://t") -> httpx.AsyncClient:
    """A client whose connections come from ``ip``."""
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url=base)


def unique_prefix() -> str:
    return f"vaxport-test-rl-{uuid.uuid4().hex[:8]}"


async def drop_keys(prefix: str) -> None:
    """Delete a test's rate-limit keys from the shared Redis (nothing to do in memory)."""
    if not REDIS_URL:
        return
    import redis.asyncio as aioredis

    r = aioredis.Redis.from_url(REDIS_URL)
    try:
        async for key in r.scan_iter(match=f"{prefix}:*"):
            await r.delete(key)
    finally:
        await r.aclose()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port
