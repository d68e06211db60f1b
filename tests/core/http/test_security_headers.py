"""Security headers on pages, API answers, errors and assets."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from vaxport.app import create_app
from vaxport.core.http.middleware import RequestMiddleware
from vaxport.core.http.security_headers import PAGE_CSP, SecurityHeaders
from vaxport.settings import Settings

HTML = {"Accept": "text/html"}


def assert_common(r: httpx.Response) -> None:
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


@pytest.mark.parametrize("path", ["/", "/missing-tenant/"])
async def test_pages_get_a_strict_csp_and_permissions_policy(
    client: httpx.AsyncClient, path: str
) -> None:
    r = await client.get(path, headers=HTML)
    assert r.headers["content-type"].startswith("text/html")
    assert_common(r)
    csp = r.headers["content-security-policy"]
    assert csp == PAGE_CSP
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'self'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    policy = r.headers["permissions-policy"]
    assert "geolocation=(self)" in policy
    allowed = [p for p in policy.split(", ") if not p.endswith("=()")]
    assert allowed == ["geolocation=(self)"]


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/nowhere/x", "/metrics"])
async def test_data_answers_render_nothing_and_cannot_be_framed(
    client: httpx.AsyncClient, path: str
) -> None:
    r = await client.get(path)
    assert_common(r)
    assert r.headers["content-security-policy"].startswith("default-src 'none'")
    assert "permissions-policy" not in r.headers


async def test_rejected_oversized_body_still_has_headers(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/x/y", content=b"x" * (2 * 1024 * 1024))
    assert r.status_code == 413
    assert_common(r)


async def test_api_docs_page_has_the_page_policy_and_loads_nothing_foreign(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/api/docs")
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == PAGE_CSP
    assert "http" not in r.text.replace(str(client.base_url), "")  # no CDN, no absolute URL
    assert "<script>" not in r.text  # every script is a file of this origin
    for src in re.findall(r'(?:src|href)="(/static/[^"]+)"', r.text):
        assert (await client.get(src)).status_code == 200, src


async def test_static_assets_get_nosniff(client: httpx.AsyncClient) -> None:
    page = (await client.get("/")).text
    href = page.split('rel="stylesheet" href="', 1)[1].split('"', 1)[0]
    r = await client.get(href)
    assert r.headers["x-content-type-options"] == "nosniff"


async def test_hsts_only_on_https_answers_when_https_is_forced(
    settings: Settings,
    clean_db,
    cache,  # type: ignore[no-untyped-def]
) -> None:
    cases = (
        (False, "https://t", False),
        (True, "https://t", True),
        # RFC 6797: never over plain HTTP (health checks answer on either scheme).
        (True, "http://t", False),
    )
    for force, base, expected in cases:
        app = create_app(
            settings.model_copy(update={"force_https": force}), database=clean_db, cache=cache
        )
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as c:
            r = await c.get("/healthz")
        assert r.status_code == 200
        assert ("strict-transport-security" in r.headers) is expected, (force, base)


async def test_a_response_that_sets_its_own_policy_keeps_it() -> None:
    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        response: Response = PlainTextResponse(
            "x", headers={"Content-Security-Policy": "sandbox", "X-Frame-Options": "SAMEORIGIN"}
        )
        await response(scope, receive, send)

    app = RequestMiddleware(inner, security=SecurityHeaders())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/")
    assert r.headers.get_list("content-security-policy") == ["sandbox"]
    assert r.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert r.headers["x-content-type-options"] == "nosniff"


async def test_unhandled_error_page_still_carries_its_policy(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/boom/{x}")
    async def boom(x: str) -> None:
        raise RuntimeError("unexpected")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/boom/1", headers=HTML)
    assert r.status_code == 500
    assert "Something went wrong" in r.text
    assert "unexpected" not in r.text
    assert r.headers["content-security-policy"] == PAGE_CSP
    assert r.headers["x-content-type-options"] == "nosniff"
