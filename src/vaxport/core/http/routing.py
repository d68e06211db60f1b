"""Route dispatch: flat routes, public checks decided once, and a segment index.

This FastAPI keeps an included router as a wrapper matched lazily on every request;
:func:`flatten_included_routers` registers the routes on the app once instead.

Starlette (and FastAPI) then try each route's regex in order until one matches, so a
route near the end of a few hundred costs hundreds of regex matches per request. The
index narrows the scan to the routes whose path could match, segment by segment, and
runs those routes' own ``matches`` in their original order, so the first full match is
the one the linear scan would have found. Everything else (no full match, a 405, a
trailing-slash redirect, a mount or any route the index cannot describe coming first)
is handed to the router itself, whose behaviour is therefore unchanged.

Like ``lean_route.py`` it leans on FastAPI/Starlette internals (``fastapi._body_limit``,
``starlette._utils.get_route_path``, included routers' ``effective_route_contexts``):
versions pinned in pyproject.toml, checked by ``tests/core/test_framework_internals.py``.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi._body_limit import wrap_app_with_body_limit
from fastapi.datastructures import DefaultPlaceholder
from fastapi.routing import APIRoute, request_response
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from vaxport.core.errors import Unauthorized
from vaxport.core.http.dependencies import PERMISSION_ATTR
from vaxport.core.http.lean_route import lean_app
from vaxport.core.i18n import N_

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# A whole segment that is one parameter, with a convertor that never spans a "/".
_SEGMENT_PARAM = re.compile(r"^\{[A-Za-z_][A-Za-z0-9_]*(:(str|int|float|uuid))?\}$")


@dataclass
class _Node:
    literal: dict[str, _Node] = field(default_factory=dict)
    param: _Node | None = None
    routes: list[int] = field(default_factory=list)  # routes ending here, by position


class RouteIndex:
    """Positions of the routes that could match a path: a superset, in route order.

    ``opaque`` routes are not plain routes (mounts, hosts, included routers): whoever
    meets one must let the router decide. Plain routes whose pattern spans segments
    (``{path:path}``, ``{name}.csv``) are candidates for every path.
    """

    def __init__(self, routes: list[BaseRoute]) -> None:
        self._root = _Node()
        plain = [type(r) is Route or isinstance(r, APIRoute) for r in routes]
        self.opaque: frozenset[int] = frozenset(i for i, ok in enumerate(plain) if not ok)
        self._always: list[int] = []
        for position, route in enumerate(routes):
            if not plain[position]:
                continue
            segments = _segments(route)
            if segments is None:
                self._always.append(position)
                continue
            node = self._root
            for segment in segments:
                if _SEGMENT_PARAM.match(segment):
                    node.param = node.param or _Node()
                    node = node.param
                else:
                    node = node.literal.setdefault(segment, _Node())
            node.routes.append(position)

    def candidates(self, path: str) -> list[int]:
        """Routes that could match ``path``, plus every opaque route, ascending."""
        found = [*self.opaque, *self._always]
        level = [self._root]
        for segment in path.split("/")[1:]:
            following: list[_Node] = []
            for node in level:
                child = node.literal.get(segment)
                if child is not None:
                    following.append(child)
                # A parameter never matches an empty segment (its regex needs a character).
                if node.param is not None and segment:
                    following.append(node.param)
            level = following
            if not level:
                break
        for node in level:
            found.extend(node.routes)
        found.sort()
        return found


def _segments(route: BaseRoute) -> list[str] | None:
    """The "/"-separated parts of a plain route's path; None if a part spans segments."""
    path: str = getattr(route, "path", "")
    if not path.startswith("/"):
        return None
    parts = path.split("/")[1:]
    if any("{" in p and not _SEGMENT_PARAM.match(p) for p in parts):
        return None
    return parts


class IndexedRouter:
    """ASGI app in front of a router: dispatches what the index finds, defers the rest."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self._indexed: tuple[int, int] = (0, -1)
        self._index = RouteIndex([])

    def _current_index(self, routes: list[BaseRoute]) -> RouteIndex:
        # Rebuilt when routes are added after start-up (tests do); the check is cheap.
        if self._indexed != (id(routes), len(routes)):
            self._index = RouteIndex(routes)
            self._indexed = (id(routes), len(routes))
        return self._index

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.router(scope, receive, send)
            return
        routes = self.router.routes
        index = self._current_index(routes)
        for position in index.candidates(get_route_path(scope)):
            if position in index.opaque:
                break  # the router's own scan decides from here on
            route = routes[position]
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope.setdefault("router", self.router)
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
        await self.router(scope, receive, send)


def flatten_included_routers(app: FastAPI) -> None:
    """Register every included router's routes directly on the app's router.

    This FastAPI keeps an included router as a wrapper matched lazily on every request
    (each level matches twice and juggles scope keys), and ``app.routes`` then lists
    wrappers instead of routes. Flat routes match once, and the route walk that proves
    every route declares a permission sees them all. A router FastAPI cannot describe
    as plain API routes (mounts, websockets, form limits) is left as it is.
    """
    app.router.routes = flat_routes(app.router.routes)
    app.router._mark_routes_changed()


def flat_routes(routes: list[BaseRoute]) -> list[BaseRoute]:
    """``routes`` with each included router replaced by its routes, permission-gated.

    A route is built once: an included route is a shallow copy of the router's own
    ``APIRoute`` (the router's object, shared by every app, is never changed), taking
    the inclusion's path and settings only when the inclusion adds any (a prefix,
    dependencies...). A flat route keeps the dependency-overrides provider of the
    router it was declared on (none), so it holds no app and may serve several apps:
    vaxport overrides nothing, tests build apps from parts instead.
    """
    flat: list[BaseRoute] = []
    for route in routes:
        contexts = _plain_api_route_contexts(route)
        if contexts is None:
            flat.append(route)
            continue
        include_context = route.include_context  # type: ignore[attr-defined]
        unchanged = _routes_as_declared(route.original_router, include_context)  # type: ignore[attr-defined]
        if unchanged is not None:
            flat.extend(copy.copy(r) for r in unchanged)
        else:
            flat.extend(_route_from_context(ctx) for ctx in contexts())
    for route in flat:
        if isinstance(route, APIRoute) and not getattr(route, _GATED, False):
            _gate_permission_check(route)
            setattr(route, _GATED, True)
    return flat


# Marks a gated route: flattening an app twice, as tests that add a router to a built
# app do, must not gate a route again (routes compare by value, so no set of them).
_GATED = "_vaxport_permission_gated"


def _routes_as_declared(router: APIRouter, include: Any) -> list[APIRoute] | None:
    """The router's routes, when the inclusion changes none of them; else ``None``.

    Mirrors what FastAPI's effective route would take from the inclusion (see
    ``_EffectiveRouteContext.from_api_route``): nothing, when the inclusion brings no
    prefix, tags, dependencies, responses, callbacks, deprecation, body limit or
    defaults of its own. Nested inclusions are followed the same way.
    """
    if (
        include.prefix
        or include.tags
        or include.dependencies
        or include.responses
        or include.callbacks
        or include.deprecated
        or include.max_body_size is not None
        or include.form_limits
    ):
        return None
    defaults = (
        include.default_response_class,
        include.generate_unique_id_function,
        include.strict_content_type,
        router.default_response_class,
        router.generate_unique_id_function,
        router.strict_content_type,
    )
    if not all(isinstance(d, DefaultPlaceholder) for d in defaults):
        return None
    found: list[APIRoute] = []
    for route in router.routes:
        nested = getattr(route, "include_context", None)
        if type(route) is APIRoute:
            if route.include_in_schema and not include.include_in_schema:
                return None
            found.append(route)
        elif nested is not None:
            inner = _routes_as_declared(route.original_router, include.combine(nested))  # type: ignore[attr-defined]
            if inner is None:
                return None
            found.extend(inner)
        else:
            return None
    return found


def _route_from_context(ctx: Any) -> APIRoute:
    """The route FastAPI serves for ``ctx`` (an included route), as a plain ``APIRoute``.

    The context already holds the route's state and handler, computed exactly as
    ``APIRoute`` computes them: they are copied, not built again.
    """
    route: APIRoute = copy.copy(ctx.original_route)
    for f in dataclasses.fields(ctx):
        if f.name not in _CONTEXT_ONLY:
            setattr(route, f.name, getattr(ctx, f.name))
    route.app = ctx.app
    return route


_CONTEXT_ONLY = frozenset({"original_route", "starlette_route", "app", "frontend_prefix"})


def _is_permission_check(dep: Any) -> bool:
    """A ``requires(...)`` dependency that needs nothing from FastAPI but the request."""
    return (
        getattr(dep.call, PERMISSION_ATTR, None) is not None
        and not dep.dependencies
        and not dep.path_params + dep.query_params + dep.header_params + dep.body_params
    )


def _gate_permission_check(route: APIRoute) -> None:
    """Check the route's permission before FastAPI, not as a dependency it solves.

    ``requires(...)`` stays the declaration (its marker remains in ``route.dependencies``
    for the route walks and the OpenAPI document), but solving it as a dependency on
    every request costs a tenth of a no-op request. Public routes check nothing, so
    their runtime call simply goes. Other routes get a :class:`PermissionGate` in front of
    a handler built without it; a cookie-authenticated unsafe request still takes the
    original handler, where the check's CSRF verification reads the form through the
    same ``Request`` as the endpoint (a body can be read only once).
    """
    checks = [dep for dep in route.dependant.dependencies if _is_permission_check(dep)]
    rest = [dep for dep in route.dependant.dependencies if not _is_permission_check(dep)]
    permission, public = getattr(checks[0].call, PERMISSION_ATTR) if checks else (None, True)
    if public:
        route.dependant = dataclasses.replace(route.dependant, dependencies=rest)
        route.app = _handler(route, route.dependant) or route.app
        return
    full = route.dependant
    route.dependant = dataclasses.replace(full, dependencies=rest)
    try:
        unchecked = _handler(route, route.dependant) or wrap_app_with_body_limit(
            request_response(route.get_route_handler()), route.max_body_size
        )
    finally:
        route.dependant = full
    route.app = PermissionGate(str(permission), checked=route.app, unchecked=unchecked)


def _handler(route: APIRoute, dependant: Any) -> ASGIApp | None:
    """The lean handler of ``route`` (see ``core/http/lean_route.py``), if it can have one."""
    app = lean_app(route, dependant)
    return None if app is None else wrap_app_with_body_limit(app, route.max_body_size)


class PermissionGate:
    """ASGI app of a route: its permission check (``app.state.permission_check``), then
    the handler built without that dependency (see :func:`_gate_permission_check`)."""

    def __init__(self, permission: str, *, checked: ASGIApp, unchecked: ASGIApp) -> None:
        self.permission = permission
        self.checked = checked
        self.unchecked = unchecked

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.get("state") or {}
        if state.get("auth_via") == "cookie" and scope["method"] not in _SAFE_METHODS:
            await self.checked(scope, receive, send)
            return
        app = scope.get("app")
        checker = getattr(getattr(app, "state", None), "permission_check", None)
        if checker is None:
            raise Unauthorized(N_("authentication is required"))
        await checker(Request(scope), self.permission)
        await self.unchecked(scope, receive, send)


def _plain_api_route_contexts(route: BaseRoute) -> Callable[[], list[Any]] | None:
    """How to get an included router's effective routes, when all are API routes."""
    effective = getattr(route, "effective_route_contexts", None)
    include_context = getattr(route, "include_context", None)
    if effective is None or include_context is None or include_context.form_limits:
        return None
    if route.effective_low_priority_routes():  # type: ignore[attr-defined]
        return None
    if not all(isinstance(r, APIRoute) for r in _declared_routes(route)):
        return None
    return lambda: list(effective())


def _declared_routes(route: Any) -> list[BaseRoute]:
    """The routes an included router holds, through nested inclusions (none built)."""
    found: list[BaseRoute] = []
    for inner in route.original_router.routes:
        if getattr(inner, "include_context", None) is not None:
            found.extend(_declared_routes(inner))
        else:
            found.append(inner)
    return found
