"""Route classes: declared on routes, resolved from method and path before the body is read."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from vaxport.core.http.dependencies import ROUTE_CLASSES, iter_routes, requires, route_class_marker
from vaxport.core.http.route_policy import RouteTable

JSON_LIMIT = 1000
UPLOAD_LIMIT = 50_000


def _policy(table: RouteTable, method: str, path: str) -> tuple[str, int]:
    found = table.policy({"type": "http", "method": method, "path": path, "root_path": ""})
    return found.rate_class, found.body_limit


def _app() -> FastAPI:
    app = FastAPI()
    api = APIRouter(prefix="/api/v1/{tenant}")

    @api.post("/auth/login", dependencies=[requires("auth:login", public=True, rate="login")])
    async def login(tenant: str) -> None: ...

    @api.post("/auth/codes", dependencies=[requires("auth:code", public=True, rate="code_request")])
    async def codes(tenant: str) -> None: ...

    @api.get("/slots", dependencies=[requires("slots:search", public=True, rate="public_search")])
    async def slots(tenant: str) -> None: ...

    @api.post("/imports", dependencies=[requires("imports:create", upload=True)])
    async def imports(tenant: str) -> None: ...

    @api.get("/people/{person_id:uuid}", dependencies=[requires("people:read")])
    async def person(tenant: str, person_id: str) -> None: ...

    @api.post("/people", dependencies=[requires("people:create")])
    async def create_person(tenant: str) -> None: ...

    # Nested twice: FastAPI keeps included routers as nodes, not copies.
    outer = APIRouter()
    outer.include_router(api)
    app.include_router(outer)

    @app.post(
        "/api/v1/verify", dependencies=[requires("certs:verify", public=True, rate="verification")]
    )
    async def verify() -> None: ...

    return app


@pytest.fixture
def table() -> RouteTable:
    return RouteTable(_app().router, max_body_bytes=JSON_LIMIT, upload_max_bytes=UPLOAD_LIMIT)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/api/v1/demo/auth/login", ("login", JSON_LIMIT)),
        ("POST", "/api/v1/demo/auth/codes", ("code_request", JSON_LIMIT)),
        ("GET", "/api/v1/demo/slots", ("public_search", JSON_LIMIT)),
        ("POST", "/api/v1/verify", ("verification", JSON_LIMIT)),
        ("POST", "/api/v1/demo/imports", ("write", UPLOAD_LIMIT)),
        ("POST", "/api/v1/demo/people", ("write", JSON_LIMIT)),
        ("PATCH", "/api/v1/demo/people", ("write", JSON_LIMIT)),  # 405, still unsafe
        (
            "GET",
            "/api/v1/demo/people/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
            ("default", JSON_LIMIT),
        ),
        ("GET", "/api/v1/demo/auth/login", ("default", JSON_LIMIT)),  # wrong method: no class
        ("POST", "/api/v1/demo/auth/login/", ("write", JSON_LIMIT)),  # not the route
        ("DELETE", "/nowhere", ("write", JSON_LIMIT)),
        ("GET", "/nowhere", ("default", JSON_LIMIT)),
    ],
)
def test_each_request_gets_its_routes_declared_class_or_its_methods_default(
    table: RouteTable, method: str, path: str, expected: tuple[str, int]
) -> None:
    assert _policy(table, method, path) == expected


def test_the_first_matching_route_decides_as_in_the_router() -> None:
    app = FastAPI()

    @app.post("/api/v1/{tenant}/{thing}", dependencies=[requires("x:create")])
    async def generic(tenant: str, thing: str) -> None: ...

    @app.post(
        "/api/v1/{tenant}/login", dependencies=[requires("x:login", public=True, rate="login")]
    )
    async def login(tenant: str) -> None: ...

    @app.post(
        "/api/v1/{tenant}/login/now", dependencies=[requires("x:l", public=True, rate="login")]
    )
    async def login_now(tenant: str) -> None: ...

    table = RouteTable(app.router, max_body_bytes=JSON_LIMIT, upload_max_bytes=UPLOAD_LIMIT)
    # The generic route comes first, so Starlette routes /login to it: no login class.
    assert _policy(table, "POST", "/api/v1/demo/login")[0] == "write"
    assert _policy(table, "POST", "/api/v1/demo/login/now")[0] == "login"


def test_a_mount_shadows_later_routes_under_its_path(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = FastAPI()
    app.router.routes.append(Mount("/files", app=StaticFiles(directory=tmp_path)))

    @app.post("/files/upload", dependencies=[requires("f:up", upload=True)])
    async def upload() -> None: ...

    table = RouteTable(app.router, max_body_bytes=JSON_LIMIT, upload_max_bytes=UPLOAD_LIMIT)
    assert _policy(table, "POST", "/files/upload") == ("write", JSON_LIMIT)


def test_routes_added_before_the_first_request_are_in_the_table() -> None:
    app = FastAPI()
    table = RouteTable(app.router, max_body_bytes=JSON_LIMIT, upload_max_bytes=UPLOAD_LIMIT)

    @app.post("/late", dependencies=[requires("x:late", public=True, rate="login")])
    async def late() -> None: ...

    assert _policy(table, "POST", "/late")[0] == "login"


def test_a_request_is_classified_once() -> None:
    table = RouteTable(_app().router, max_body_bytes=JSON_LIMIT, upload_max_bytes=UPLOAD_LIMIT)
    scope = {"type": "http", "method": "POST", "path": "/api/v1/x/auth/login", "root_path": ""}
    first = table.policy(scope)
    scope["path"] = "/elsewhere"  # the cached answer belongs to the request, not the path
    assert table.policy(scope) is first


def test_an_unknown_route_class_is_refused_where_it_is_declared() -> None:
    with pytest.raises(ValueError, match="unknown route class"):
        requires("x:y", rate="logins")  # type: ignore[arg-type]


def test_every_route_of_the_app_has_a_known_class_marker(app: FastAPI) -> None:
    for _path, _route, dependencies in iter_routes(app.routes):
        rate, upload = route_class_marker(dependencies)
        assert rate is None or rate in ROUTE_CLASSES
        assert upload in (True, False)


async def test_uploads_may_be_larger_than_json_bodies(settings, clean_db, cache) -> None:  # type: ignore[no-untyped-def]
    from vaxport.app import create_app

    app = create_app(
        settings.model_copy(update={"max_body_bytes": 2048, "upload_max_bytes": 8192}),
        database=clean_db,
        cache=cache,
    )

    @app.post("/api/v1/{tenant}/imports", dependencies=[requires("i:c", public=True, upload=True)])
    async def imports(tenant: str, request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    @app.post("/api/v1/{tenant}/notes", dependencies=[requires("n:c", public=True)])
    async def notes(tenant: str, body: dict[str, str]) -> dict[str, bool]:
        return {"ok": True}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.post("/api/v1/demo/imports", content=b"x" * 6000)).json() == {"size": 6000}
        r = await c.post("/api/v1/demo/imports", content=b"x" * 9000)
        assert r.status_code == 413
        assert r.json()["limit_bytes"] == 8192
        r = await c.post("/api/v1/demo/notes", json={"a": "x" * 3000})
        assert r.status_code == 413
        assert r.json()["limit_bytes"] == 2048
        assert r.headers["content-type"] == "application/problem+json"

        # Streamed without a Content-Length, the limit is enforced while reading.
        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(10):
                yield b"x" * 1000

        r = await c.post("/api/v1/demo/imports", content=chunks())
        assert r.status_code == 413
        assert r.json()["limit_bytes"] == 8192
