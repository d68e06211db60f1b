"""The route index picks exactly the route Starlette's linear scan would pick."""

from __future__ import annotations

import uuid

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.routing import Match, Mount, Route
from starlette.staticfiles import StaticFiles

from vaxport.app import create_app
from vaxport.core.errors import Forbidden
from vaxport.core.http.dependencies import requires, route_permission
from vaxport.core.http.routing import RouteIndex, flatten_included_routers

PATHS = [
    "/",
    "/healthz",
    "/api/v1/{tenant}/config",
    "/api/v1/{tenant}/people/{person_id:uuid}",
    "/api/v1/{tenant}/people/search",
    "/api/v1/{tenant}/slots/{n:int}",
    "/api/v1/{tenant}/slots/{n:int}/",
    "/api/v1/verify",
    "/files/{rest:path}",
    "/report/{name}.csv",
]
SEGMENTS = [
    "",
    "api",
    "v1",
    "demo",
    "verify",
    "config",
    "people",
    "search",
    "slots",
    "12",
    str(uuid.UUID(int=7)),
    "files",
    "a.txt",
    "report",
    "x.csv",
    "healthz",
]


def _endpoint() -> None:  # never called: only matching is under test
    raise AssertionError


ROUTES = [Route(p, _endpoint, methods=["GET"]) for p in PATHS]


def _linear(path: str) -> list[int]:
    scope = {"type": "http", "path": path, "root_path": "", "method": "GET"}
    return [i for i, r in enumerate(ROUTES) if r.matches(dict(scope))[0] is not Match.NONE]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(SEGMENTS), min_size=0, max_size=6))
def test_candidates_include_every_route_that_matches(segments: list[str]) -> None:
    path = "/" + "/".join(segments)
    candidates = RouteIndex(ROUTES).candidates(path)
    assert candidates == sorted(candidates)
    assert set(_linear(path)) <= set(candidates)


def test_candidates_skip_routes_that_cannot_match() -> None:
    index = RouteIndex(ROUTES)
    assert index.opaque == frozenset()  # every one is a plain route
    assert index.candidates("/api/v1/demo/config") == [2, 8, 9]  # 8, 9: patterns spanning segments
    assert index.candidates("/api/v1/verify") == [7, 8, 9]
    assert 2 not in index.candidates("/api/v1//config")  # a parameter needs a character


def _app_with(settings) -> FastAPI:  # type: ignore[no-untyped-def]
    app = create_app(settings)
    router = APIRouter(prefix="/api/v1/{tenant}")

    @router.get("/things/{thing}", dependencies=[requires("t:read", public=True)])
    async def by_id(tenant: str, thing: str) -> dict[str, str]:
        return {"route": "by_id", "tenant": tenant, "thing": thing}

    @router.get("/things/special", dependencies=[requires("t:read", public=True)])
    async def special(tenant: str) -> dict[str, str]:
        return {"route": "special", "tenant": tenant}

    @router.put("/things/{thing}", dependencies=[requires("t:write", public=True)])
    async def put(tenant: str, thing: str) -> dict[str, str]:
        return {"route": "put"}

    app.include_router(router)
    flatten_included_routers(app)  # as create_app does for the contexts' routers
    return app


async def test_first_declared_route_wins_as_in_a_linear_scan(settings) -> None:  # type: ignore[no-untyped-def]
    app = _app_with(settings)
    flat = [r for r in app.routes if isinstance(r, APIRoute) and "/things/" in r.path]
    assert [r.path for r in flat] == [
        "/api/v1/{tenant}/things/{thing}",
        "/api/v1/{tenant}/things/special",
        "/api/v1/{tenant}/things/{thing}",
    ]
    assert all(route_permission(r) is not None for r in flat)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        # Declared first, the parameter route shadows the literal one: FastAPI's order.
        r = await c.get("/api/v1/demo/things/special")
        assert r.json() == {"route": "by_id", "tenant": "demo", "thing": "special"}
        assert (await c.put("/api/v1/demo/things/1")).json() == {"route": "put"}
        wrong = await c.delete("/api/v1/demo/things/1")
        assert wrong.status_code == 405
        assert wrong.headers["content-type"] == "application/problem+json"
        missing = await c.get("/api/v1/demo/nothing/here")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"


def test_mounts_are_opaque_and_always_candidates() -> None:
    routes = [*ROUTES[:2], Mount("/static", app=StaticFiles(directory="."))]
    index = RouteIndex(routes)
    assert index.opaque == frozenset({2})
    assert index.candidates("/healthz") == [1, 2]


async def test_routes_added_after_start_and_mounts_still_dispatch(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.txt").write_text("static")
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/healthz")).status_code == 200

        @app.get("/late", dependencies=[requires("t:read", public=True)])
        async def late() -> dict[str, bool]:
            return {"late": True}

        app.router.routes.insert(0, Mount("/static", app=StaticFiles(directory=tmp_path)))
        assert (await c.get("/late")).json() == {"late": True}
        assert (await c.get("/static/a.txt")).text == "static"
        assert (await c.get("/healthz")).status_code == 200


def test_context_routers_are_flattened_into_real_routes(settings) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings.model_copy(update={"bench_mode": True}))
    api = {(r.path, m) for r in app.routes if isinstance(r, APIRoute) for m in r.methods}
    assert {("/healthz", "GET"), ("/readyz", "GET"), ("/metrics", "GET")} <= api
    assert {("/bench/noop", "GET"), ("/bench/noop", "POST")} <= api
    # Nothing left for the permission walk to step over.
    assert all(type(r).__name__ != "_IncludedRouter" for r in app.routes)


async def test_only_public_permission_checks_are_skipped(settings) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings)
    router = APIRouter(prefix="/api/v1/{tenant}")

    @router.get("/open", dependencies=[requires("t:read", public=True)])
    async def open_() -> dict[str, bool]:
        return {"ok": True}

    @router.get("/closed", dependencies=[requires("t:read")])
    async def closed() -> dict[str, bool]:
        return {"ok": True}

    app.include_router(router)
    flatten_included_routers(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/api/v1/demo/open")).status_code == 200
        r = await c.get("/api/v1/demo/closed")
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
    closed_route = next(r for r in app.routes if getattr(r, "path", "").endswith("/closed"))
    assert route_permission(closed_route) == ("t:read", False)


async def test_permission_checks_run_once_in_front_of_the_handler(settings) -> None:  # type: ignore[no-untyped-def]
    from vaxport.core.http.routing import PermissionGate

    app = create_app(settings)
    router = APIRouter(prefix="/api/v1/{tenant}")
    seen: list[tuple[str, str | None, str]] = []

    @router.post("/closed", dependencies=[requires("t:write")])
    async def closed(body: dict[str, int]) -> dict[str, int]:
        return body

    async def check(request: Request, permission: str) -> None:
        seen.append((permission, request.path_params.get("tenant"), request.method))
        if request.headers.get("x-allow") != "yes":
            raise Forbidden("no")

    app.include_router(router)
    flatten_included_routers(app)
    app.state.permission_check = check
    route = next(r for r in app.routes if getattr(r, "path", "").endswith("/closed"))
    assert isinstance(route.app, PermissionGate)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        refused = await c.post("/api/v1/demo/closed", content=b"not json")
        assert refused.status_code == 403  # refused before the body is even parsed
        ok = await c.post("/api/v1/demo/closed", json={"a": 1}, headers={"x-allow": "yes"})
        assert ok.status_code == 200
        assert ok.json() == {"a": 1}
    assert seen == [("t:write", "demo", "POST")] * 2
