"""Every error is RFC 9457 problem+json; health, readiness, metrics and request ids."""

from __future__ import annotations

import httpx
from fastapi import File, UploadFile

from vaxport.app import create_app
from vaxport.core.http.dependencies import iter_routes, route_permission


async def test_unknown_path_is_problem_json_404(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/nope/does-not-exist")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 404
    assert body["type"].endswith("/not-found")
    assert body["instance"] == "/api/v1/nope/does-not-exist"


async def test_wrong_method_is_problem_json_405(client: httpx.AsyncClient) -> None:
    r = await client.delete("/healthz")
    assert r.status_code == 405
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 405


async def test_oversized_body_is_413_by_content_length(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/demo/anything", content=b"x" * (2 * 1024 * 1024))
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["limit_bytes"] == 1_048_576


async def test_oversized_streamed_body_without_length_is_413(settings) -> None:  # type: ignore[no-untyped-def]
    from typing import Any

    from fastapi import Body

    app = create_app(settings)

    @app.post("/echo")
    async def echo(payload: Any = Body(...)) -> Any:
        return payload

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"y" * 65536

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.post("/echo", content=chunks())
        assert r.status_code == 413
        assert r.headers["content-type"] == "application/problem+json"
        ok = await c.post("/echo", json={"a": 1})
        assert ok.status_code == 200


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok", "checks": {}}
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["checks"] == {"database": "ok", "cache": "ok"}


async def test_request_id_is_generated_or_kept(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert len(r.headers["x-request-id"]) == 36
    r = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith junk"})
    assert r.headers["x-request-id"] != "bad id\twith junk"


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    text = (await client.get("/metrics")).text
    assert 'vaxport_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert "vaxport_http_request_duration_seconds_bucket" in text


def test_every_route_declares_a_permission(settings) -> None:  # type: ignore[no-untyped-def]
    from fastapi.routing import APIRoute

    app = create_app(settings.model_copy(update={"bench_mode": True}))
    endpoints = [(p, r, d) for p, r, d in iter_routes(app.routes) if isinstance(r, APIRoute)]
    paths = {p for p, _, _ in endpoints}
    # The walk must see routes of included routers, or this test proves nothing.
    assert {"/healthz", "/readyz", "/metrics", "/bench/noop"} <= paths
    missing = [
        f"{sorted(r.methods)} {p}" for p, r, d in endpoints if route_permission(r, d) is None
    ]
    assert missing == []


async def test_a_forms_uploaded_files_are_closed_when_the_request_ends(settings) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings)
    seen: list[UploadFile] = []

    @app.post("/upload")
    async def upload(file: UploadFile = File(...)) -> dict[str, int]:
        seen.append(file)
        return {"size": len(await file.read())}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.post("/upload", files={"file": ("a.txt", b"hello")})
        assert r.status_code == 200, r.text
        assert r.json() == {"size": 5}
        bad = await c.post("/upload", data={"other": "x"})  # no file: problem+json 422
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
    assert seen
    assert seen[0].file.closed


async def test_an_error_raised_by_a_route_is_problem_json_with_the_request_id(settings) -> None:  # type: ignore[no-untyped-def]
    from vaxport.core.errors import Conflict

    app = create_app(settings)

    @app.get("/conflict")
    async def conflict() -> None:
        raise Conflict("already there")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/conflict", headers={"X-Request-ID": "abc-123"})
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["x-request-id"] == "abc-123"
    assert r.json()["detail"] == "already there"
