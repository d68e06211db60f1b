"""A lean request handler for the routes that need nothing else from FastAPI's.

FastAPI's per-route handler does, on every request, what most of our routes never use:
OpenTelemetry look-ups, per-request closures for streaming and server-sent events, a
MIME parse of the content type through ``email.message``, two exit stacks and an
exception-handling wrapper that the app's own exception middleware already provides.
On a no-op request that is ~30 of ~50 microseconds of in-process CPU (``vaxport bench``:
the production stack reached ~0.4 of bare Starlette). This handler keeps what decides
behaviour, and uses FastAPI's own functions for it: the JSON body read, dependency
solving (``solve_dependencies``), request validation errors, the call, response-model
validation and serialisation, status code, headers and background tasks set through an
injected ``Response``.

Routes it does not describe keep FastAPI's handler (:func:`lean_app` answers None):
sync endpoints, dependencies with ``yield`` (their two clean-up scopes), form bodies,
streaming and server-sent events, custom response classes.

Dependencies are solved from a plan made at start-up (:func:`_plan`): the same order,
per-request cache, values and errors as ``solve_dependencies``, which reads the query
string, headers and cookies for every dependency whether or not it declared any (a
sixth of a read's stack time); dependants it does not describe (security scopes, sync
dependencies, overrides) go through ``solve_dependencies`` itself.

It leans on FastAPI internals (``route._embed_body_fields``, the ``fastapi_*_astack``
scope keys, ``solve_dependencies``' keywords, the dependency cache key, ``Dependant``'s
fields): pyproject.toml pins the FastAPI and
Starlette minor versions it was written for, and ``tests/core/test_framework_internals.py``
fails naming this file when an upgrade changes one of them.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

from fastapi import params
from fastapi.background import BackgroundTasks
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import (
    Dependant,
    _get_cache_key,
    _is_coroutine_callable,
    _is_security_scheme,
)
from fastapi.dependencies.utils import (
    SolvedDependency,
    request_body_to_args,
    request_params_to_args,
    solve_dependencies,
)
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from fastapi.routing import APIRoute
from fastapi.utils import is_body_allowed_for_status_code
from pydantic_core import PydanticUndefined as Undefined  # FastAPI's "no body" marker
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from vaxport.core.http import json_body

_BODY_ERROR = "There was an error parsing the body"


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dep in dependant.dependencies:
        yield dep.call
        yield from _calls(dep)


def _is_generator(call: Any) -> bool:
    target = call if inspect.isfunction(call) or inspect.ismethod(call) else None
    if target is None and call is not None and not inspect.isclass(call):
        target = getattr(call, "__call__", None)  # noqa: B004 - callable instances
    return bool(
        target is not None
        and (inspect.isgeneratorfunction(target) or inspect.isasyncgenfunction(target))
    )


def _eligible(route: APIRoute, dependant: Dependant) -> bool:
    if not inspect.iscoroutinefunction(dependant.call):
        return False
    if any(_is_generator(call) or inspect.isclass(call) for call in _calls(dependant)):
        return False
    if route.body_field is not None and isinstance(route.body_field.field_info, params.Form):
        return False
    if getattr(route, "is_json_stream", False) or getattr(route, "stream_item_field", None):
        return False
    return isinstance(route.response_class, DefaultPlaceholder) and not route.form_limits


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    maintype, _, subtype = media.partition("/")
    return maintype == "application" and (subtype == "json" or subtype.endswith("+json"))


@dataclass(frozen=True, slots=True)
class _Sub:
    call: Any
    name: str | None
    use_cache: bool
    key: Any  # FastAPI's cache key of the dependency (``_get_cache_key``)
    plan: _Plan


@dataclass(frozen=True, slots=True)
class _Plan:
    """What solving one dependant takes, decided at start-up (see :func:`_plan`)."""

    subs: tuple[_Sub, ...]
    path: tuple[Any, ...]
    query: tuple[Any, ...]
    header: tuple[Any, ...]
    cookie: tuple[Any, ...]
    body: tuple[Any, ...]
    request: tuple[str, ...]  # names that take the Request (request, http connection)
    response: str | None
    background: str | None


def _plan(dependant: Dependant) -> _Plan | None:
    """The plan of ``dependant`` (and its dependencies), or None when it uses something
    only ``solve_dependencies`` handles: security scopes and schemes, websockets, sync
    dependencies (a thread pool), concurrency limits."""
    if (
        dependant.security_scopes_param_name
        or dependant.own_oauth_scopes
        or dependant.parent_oauth_scopes
        or dependant.websocket_param_name
        or getattr(dependant, "concurrency", None) is not None
    ):
        return None
    subs = []
    for sub in dependant.dependencies:
        inner = _plan(sub)
        if inner is None or _is_security_scheme(dependant=sub):
            return None
        if not _is_coroutine_callable(sub.call):
            return None
        key = _get_cache_key(dependant=sub)
        subs.append(_Sub(sub.call, sub.name, sub.use_cache, key, inner))
    return _Plan(
        subs=tuple(subs),
        path=tuple(dependant.path_params),
        query=tuple(dependant.query_params),
        header=tuple(dependant.header_params),
        cookie=tuple(dependant.cookie_params),
        body=tuple(dependant.body_params),
        request=tuple(
            n for n in (dependant.request_param_name, dependant.http_connection_param_name) if n
        ),
        response=dependant.response_param_name,
        background=dependant.background_tasks_param_name,
    )


class _Solving:
    """One request's solving state: what ``solve_dependencies`` threads through its calls."""

    __slots__ = ("background", "body", "cache", "embed", "request", "response")

    def __init__(self, request: Request, body: Any, embed: bool) -> None:
        self.request = request
        self.body = body
        self.embed = embed
        self.response = _Injected()
        self.background: Any = None
        self.cache: dict[Any, Any] = {}


async def _solve(plan: _Plan, st: _Solving) -> tuple[dict[str, Any], list[Any]]:
    """``solve_dependencies`` for a planned dependant: the same order, cache, values and
    errors, without reading the query string, headers or cookies nobody declared."""
    values, errors = await _solve_subs(plan, st) if plan.subs else ({}, [])
    request = st.request
    for fields, source in (
        (plan.path, "path_params"),
        (plan.query, "query_params"),
        (plan.header, "headers"),
        (plan.cookie, "cookies"),
    ):
        if fields:
            found, wrong = request_params_to_args(fields, getattr(request, source))
            values.update(found)
            errors += wrong
    if plan.body:
        found, wrong = await request_body_to_args(
            body_fields=list(plan.body), received_body=st.body, embed_body_fields=st.embed
        )
        values.update(found)
        errors.extend(wrong)
    for name in plan.request:
        values[name] = request
    if plan.background:
        if st.background is None:
            st.background = BackgroundTasks()
        values[plan.background] = st.background
    if plan.response:
        values[plan.response] = st.response
    return values, errors


async def _solve_subs(plan: _Plan, st: _Solving) -> tuple[dict[str, Any], list[Any]]:
    values: dict[str, Any] = {}
    errors: list[Any] = []
    for sub in plan.subs:
        sub_values, sub_errors = await _solve(sub.plan, st)
        if sub_errors:
            errors.extend(sub_errors)
            continue
        if sub.use_cache and sub.key in st.cache:
            solved = st.cache[sub.key]
        else:
            solved = await sub.call(**sub_values)
        if sub.name is not None:
            values[sub.name] = solved
        if sub.key not in st.cache:
            st.cache[sub.key] = solved
    return values, errors


def lean_app(route: APIRoute, dependant: Dependant) -> ASGIApp | None:
    """An ASGI app answering like FastAPI's handler of ``route`` (with ``dependant``), or
    None when the route uses something only FastAPI's handler does (module docstring)."""
    return LeanHandler(route, dependant) if _eligible(route, dependant) else None


class LeanHandler:
    """See the module docstring; built once per route, at start-up."""

    def __init__(self, route: APIRoute, dependant: Dependant) -> None:
        assert dependant.call is not None
        self.route = route
        self.dependant = dependant
        self.call = dependant.call
        self.default_class: Any = getattr(route.response_class, "value", None)
        strict = route.strict_content_type
        self.strict = strict.value if isinstance(strict, DefaultPlaceholder) else strict
        self.plan = _plan(dependant)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        # No yield dependencies here, so nothing is pushed on the stack in practice:
        # it is closed only if something was (entering and leaving an empty one costs a
        # coroutine per request).
        stack = AsyncExitStack()
        scope["fastapi_inner_astack"] = stack
        scope["fastapi_function_astack"] = stack
        try:
            body: Any = Undefined
            if self.route.body_field is not None:
                body = await self._read_body(request)
            solved = await self._solve(request, body, stack)
            if solved.errors:
                raise RequestValidationError(
                    solved.errors, body=None if body is Undefined else body
                )
            raw = await self.call(**solved.values)
            response = self._response(raw, solved)
        finally:
            if stack._exit_callbacks:  # type: ignore[attr-defined]
                await stack.aclose()
        await response(scope, receive, send)

    async def _solve(self, request: Request, body: Any, stack: AsyncExitStack) -> Any:
        provider = self.route.dependency_overrides_provider
        if self.plan is None or getattr(provider, "dependency_overrides", None):
            return await solve_dependencies(
                request=request,
                dependant=self.dependant,
                body=body,
                dependency_overrides_provider=provider,
                async_exit_stack=stack,
                embed_body_fields=self.route._embed_body_fields,
                response=_Injected(),
            )
        st = _Solving(request, body, self.route._embed_body_fields)
        values, errors = await _solve(self.plan, st)
        return SolvedDependency(
            values=values,
            errors=errors,
            background_tasks=st.background,
            response=st.response,
            dependency_cache=st.cache,
        )

    async def _read_body(self, request: Request) -> Any:
        try:
            raw = await request.body()
        except HTTPException:
            raise
        except Exception as exc:
            raise HTTPException(status_code=400, detail=_BODY_ERROR) from exc
        if not raw:
            return Undefined
        content_type = request.headers.get("content-type")
        if not (_is_json(content_type) if content_type else not self.strict):
            return raw
        try:
            return json_body.loads(raw)
        except json_body.TooDeepError as exc:
            error: dict[str, Any] = {
                "type": "json_too_deep",
                "loc": ("body",),
                "msg": str(exc),
                "input": {},
                "ctx": {"limit": json_body.MAX_DEPTH},
            }
            raise RequestValidationError([error], body=None) from exc
        except json_body.BodyError as exc:
            raise RequestValidationError([exc.error()], body=None) from exc
        except json.JSONDecodeError as exc:
            error = {
                "type": "json_invalid",
                "loc": ("body", exc.pos),
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": exc.msg},
            }
            raise RequestValidationError([error], body=exc.doc) from exc
        except UnicodeDecodeError as exc:
            raise HTTPException(status_code=400, detail=_BODY_ERROR) from exc

    def _response(self, raw: Any, solved: Any) -> Response:
        if isinstance(raw, Response):
            if raw.background is None:
                raw.background = solved.background_tasks
            return raw
        args: dict[str, Any] = {"background": solved.background_tasks}
        status = solved.response.status_code or self.route.status_code
        if status is not None:
            args["status_code"] = status
        field = self.route.response_field
        response: Response
        if field is not None:
            value, errors = field.validate(raw, {}, loc=("response",))
            if errors:
                raise ResponseValidationError(errors=errors, body=raw)
            route = self.route
            content = field.serialize_json(
                value,
                include=route.response_model_include,
                exclude=route.response_model_exclude,
                by_alias=route.response_model_by_alias,
                exclude_unset=route.response_model_exclude_unset,
                exclude_defaults=route.response_model_exclude_defaults,
                exclude_none=route.response_model_exclude_none,
            )
            response = Response(content, media_type="application/json", **args)
        else:
            response = self.default_class(jsonable_encoder(raw), **args)
        if not is_body_allowed_for_status_code(response.status_code):
            response.body = b""
        extra = solved.response.raw_headers  # what the route set on its injected Response
        if extra:
            response.raw_headers.extend(extra)
        return response


class _Injected(Response):
    """The ``Response`` a route may take as a parameter, as ``solve_dependencies`` makes
    it (no status, no headers), without rendering an empty body and then deleting the
    ``content-length`` that produced (a tenth of a lean no-op's CPU went to headers)."""

    def __init__(self) -> None:  # nothing to render: no super().__init__()
        self.status_code = None  # type: ignore[assignment]  # unset: the route's default
        self.background = None
        self.body = b""
        self.raw_headers = []
