"""What core/http/lean_route.py and core/http/routing.py rely on inside FastAPI and Starlette.

Both files exist for speed (bench/README.md, "What keeps it low") and use internals no
release promises to keep. pyproject.toml pins the minor versions they were written for;
these tests fail, naming the file to re-read, when an upgrade changes what they use:
first the names and signatures, then the behaviour (a lean route answers every request
exactly as FastAPI's own handler of the same route does).
"""

from __future__ import annotations

import dataclasses
import inspect
import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack
from importlib import import_module
from importlib.metadata import version
from typing import Annotated, Any

import fastapi
import httpx
import pytest
from fastapi import APIRouter, BackgroundTasks, Cookie, Depends, FastAPI, Header, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict

from vaxport.core.http.lean_route import lean_app
from vaxport.core.http.routing import flatten_included_routers

LEAN = "src/vaxport/core/http/lean_route.py"
ROUTING = "src/vaxport/core/http/routing.py"
HANDLED = "src/vaxport/core/http/handled.py"
# The minor versions both files were written for (and pyproject.toml pins).
WRITTEN_FOR = {"fastapi": "0.165", "starlette": "1.10"}


def _upgrade_message(what: str, where: str) -> str:
    installed = ", ".join(f"{name} {version(name)}" for name in WRITTEN_FOR)
    return (
        f"{installed}: {what} changed; {where} relies on it. Re-read {where} against the "
        f"new release (or drop it for FastAPI's public API), then update WRITTEN_FOR here "
        f"and the pins in pyproject.toml."
    )


@pytest.mark.parametrize("package", sorted(WRITTEN_FOR))
def test_installed_framework_is_the_one_the_lean_paths_were_written_for(package: str) -> None:
    minor = ".".join(version(package).split(".")[:2])
    assert minor == WRITTEN_FOR[package], _upgrade_message(
        f"{package} version", f"{LEAN} and {ROUTING}"
    )


def _params(func: Callable[..., Any]) -> set[str]:
    return set(inspect.signature(func).parameters)


def _route() -> APIRoute:
    router = APIRouter()

    @router.post("/x")
    async def endpoint(body: dict[str, int]) -> dict[str, int]:
        return body

    return next(r for r in router.routes if isinstance(r, APIRoute))


# (what is relied on, the file relying on it, a check that it is still there as used)
INTERNALS: list[tuple[str, str, Callable[[], bool]]] = [
    (
        "fastapi._body_limit.wrap_app_with_body_limit(app, max_body_size)",
        ROUTING,
        lambda: (
            _params(import_module("fastapi._body_limit").wrap_app_with_body_limit)
            == {"app", "max_body_size"}
        ),
    ),
    (
        "starlette._utils.get_route_path(scope)",
        ROUTING,
        lambda: _params(import_module("starlette._utils").get_route_path) == {"scope"},
    ),
    (
        "solve_dependencies' keywords",
        LEAN,
        lambda: (
            {
                "request",
                "dependant",
                "body",
                "dependency_overrides_provider",
                "async_exit_stack",
                "embed_body_fields",
            }
            <= _params(import_module("fastapi.dependencies.utils").solve_dependencies)
        ),
    ),
    (
        "Dependant's fields, _get_cache_key / _is_security_scheme / _is_coroutine_callable "
        "(dependant=...), request_params_to_args / request_body_to_args, SolvedDependency",
        LEAN,
        lambda: (
            {
                "path_params",
                "query_params",
                "header_params",
                "cookie_params",
                "body_params",
                "dependencies",
                "name",
                "call",
                "request_param_name",
                "websocket_param_name",
                "http_connection_param_name",
                "response_param_name",
                "background_tasks_param_name",
                "security_scopes_param_name",
                "own_oauth_scopes",
                "parent_oauth_scopes",
                "use_cache",
                "concurrency",
            }
            <= {
                f.name
                for f in dataclasses.fields(import_module("fastapi.dependencies.models").Dependant)
            }
            and _params(import_module("fastapi.dependencies.models")._get_cache_key)
            >= {"dependant"}
            and _params(import_module("fastapi.dependencies.models")._is_security_scheme)
            == {"dependant"}
            and _params(import_module("fastapi.dependencies.utils").request_params_to_args)
            == {"fields", "received_params"}
            and _params(import_module("fastapi.dependencies.utils").request_body_to_args)
            == {"body_fields", "received_body", "embed_body_fields"}
            and set(
                import_module("fastapi.dependencies.utils").SolvedDependency.__dataclass_fields__
            )
            == {"values", "errors", "background_tasks", "response", "dependency_cache"}
        ),
    ),
    (
        "FastAPI's 'no body' marker (pydantic_core.PydanticUndefined)",
        LEAN,
        lambda: (
            import_module("fastapi.dependencies.utils").Undefined
            is import_module("pydantic_core").PydanticUndefined
        ),
    ),
    (
        "the fastapi_inner_astack / fastapi_function_astack scope keys",
        LEAN,
        lambda: all(
            key in inspect.getsource(import_module("fastapi.routing"))
            for key in ("fastapi_inner_astack", "fastapi_function_astack")
        ),
    ),
    (
        "APIRoute attributes (_embed_body_fields, strict_content_type, form_limits, "
        "max_body_size, is_json_stream, stream_item_field, dependency_overrides_provider)",
        LEAN,
        lambda: all(
            hasattr(_route(), name)
            for name in (
                "_embed_body_fields",
                "strict_content_type",
                "form_limits",
                "max_body_size",
                "is_json_stream",
                "stream_item_field",
                "dependency_overrides_provider",
                "response_field",
                "body_field",
            )
        ),
    ),
    (
        "ModelField.validate(value, values, *, loc) / serialize_json(value, *, include, ...)",
        LEAN,
        lambda: (
            {"value", "values", "loc"} <= _params(type(_route().body_field).validate)
            and {"include", "exclude", "by_alias", "exclude_unset", "exclude_defaults"}
            <= _params(type(_route().body_field).serialize_json)
        ),
    ),
    (
        "FastAPI's handler reads its file stack from scope['fastapi_middleware_astack']; "
        "AsyncExitStack keeps its callbacks in _exit_callbacks",
        HANDLED,
        lambda: (
            "fastapi_middleware_astack" in inspect.getsource(import_module("fastapi.routing"))
            and hasattr(AsyncExitStack(), "_exit_callbacks")
            and not AsyncExitStack()._exit_callbacks
        ),
    ),
    (
        "Router._mark_routes_changed and included routers' effective_route_contexts / "
        "include_context / effective_low_priority_routes",
        ROUTING,
        lambda: (
            hasattr(fastapi.routing.APIRouter, "_mark_routes_changed")
            and "effective_route_contexts" in inspect.getsource(fastapi.routing)
            and "effective_low_priority_routes" in inspect.getsource(fastapi.routing)
            and "include_context" in inspect.getsource(fastapi.routing)
        ),
    ),
]


@pytest.mark.parametrize(("what", "where", "check"), INTERNALS, ids=[i[0] for i in INTERNALS])
def test_framework_internals_are_still_there(
    what: str, where: str, check: Callable[[], bool]
) -> None:
    try:
        ok = check()
    except (AttributeError, ImportError, TypeError, ValueError) as exc:
        pytest.fail(f"{_upgrade_message(what, where)} ({exc!r})")
    assert ok, _upgrade_message(what, where)


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    qty: int = 1


class Total(BaseModel):
    name: str
    total: int


async def _tenant(tenant: str, request: Request) -> str:  # a path param and the request
    request.state.calls = getattr(request.state, "calls", 0) + 1  # cached: once a request
    return f"{tenant}@{request.url.path}"


async def _lang(tenant: Annotated[str, Depends(_tenant)], accept_language: str = Header("")) -> str:
    return f"{tenant}/{accept_language or '-'}"


async def _session(vaxport_session: str | None = Cookie(default=None)) -> str:
    return vaxport_session or "-"


def _app(*, lean: bool, ran: list[int]) -> FastAPI:
    router = APIRouter()

    @router.post("/items/{n}", response_model=Total, status_code=201)
    async def create(
        n: int,
        item: Item,
        response: Response,
        background: BackgroundTasks,
        x_tag: str | None = Header(default=None),
    ) -> Total:
        response.headers["x-seen"] = x_tag or "-"
        background.add_task(ran.append, n)
        return Total(name=item.name, total=item.qty * n)

    @router.get("/plain")
    async def plain(q: int = 0) -> dict[str, object]:
        return {"q": q, "list": [1, 2]}

    @router.delete("/items/{n}", status_code=204)
    async def delete(n: int) -> None:
        ran.append(-n)

    @router.get("/raw")
    async def raw(response: Response) -> Response:
        return Response(b"raw", media_type="text/plain", headers={"x-raw": "1"})

    @router.put("/status/{n}")
    async def status(n: int, response: Response) -> dict[str, int]:
        response.status_code = 202
        return {"n": n}

    @router.get("/t/{tenant}/{n}")
    async def tree(
        n: uuid.UUID,
        who: Annotated[str, Depends(_tenant)],
        lang: Annotated[str, Depends(_lang)],
        cookie: Annotated[str, Depends(_session)],
        fresh: Annotated[str, Depends(_tenant, use_cache=False)],
        request: Request,
        page: int = 1,
    ) -> dict[str, object]:
        calls = request.state.calls
        return {
            "n": str(n),
            "who": who,
            "lang": lang,
            "cookie": cookie,
            "page": page,
            "fresh": fresh,
            "calls": calls,
        }

    app = FastAPI()
    app.include_router(router)
    if lean:
        flatten_included_routers(app)
        routes = [r for r in app.router.routes if isinstance(r, APIRoute)]
        assert len(routes) == 6
        handlers = [lean_app(r, r.dependant) for r in routes]
        assert all(h is not None for h in handlers), LEAN
        assert all(getattr(h, "plan", None) is not None for h in handlers), LEAN
    return app


REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/items/3", {"json": {"name": "a", "qty": 2}, "headers": {"x-tag": "t"}}),
    ("POST", "/items/3", {"json": {"name": "a", "extra": 1}}),
    ("POST", "/items/3", {"json": {"qty": "many"}}),
    ("POST", "/items/x", {"json": {"name": "a"}}),
    (
        "POST",
        "/items/3",
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
    ),
    ("POST", "/items/3", {"content": b'{"name": "a"}', "headers": {"content-type": "text/plain"}}),
    (
        "POST",
        "/items/3",
        {"content": b'{"name": "a"}', "headers": {"content-type": "application/merge-patch+json"}},
    ),
    ("POST", "/items/3", {"content": b"\xff\xfe", "headers": {"content-type": "application/json"}}),
    ("POST", "/items/3", {}),
    ("GET", "/plain?q=5", {}),
    ("GET", "/plain?q=five", {}),
    ("DELETE", "/items/4", {}),
    ("GET", "/raw", {}),
    ("PUT", "/status/7", {}),
    ("GET", f"/t/demo/{uuid.UUID(int=7)}?page=2", {"headers": {"accept-language": "fr"}}),
    ("GET", f"/t/demo/{uuid.UUID(int=7)}", {"headers": {"cookie": "vaxport_session=s"}}),
    ("GET", "/t/demo/not-a-uuid?page=x", {}),
]


@pytest.mark.parametrize(("method", "url", "kwargs"), REQUESTS)
async def test_a_lean_route_answers_as_fastapis_own_handler(
    method: str, url: str, kwargs: dict[str, Any]
) -> None:
    answers = []
    for lean in (False, True):
        ran: list[int] = []
        transport = httpx.ASGITransport(app=_app(lean=lean, ran=ran))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.request(method, url, **kwargs)
        answers.append((r.status_code, sorted(r.headers.items()), r.content, ran))
    assert answers[1] == answers[0], _upgrade_message(
        "FastAPI's request handling (a lean route now answers differently)", LEAN
    )
