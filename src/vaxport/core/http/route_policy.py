"""Which class a request belongs to, decided from method and path before any body is read.

Routes declare their class with ``requires(..., rate="login", upload=True)``. Rate and
body limits must act before the endpoint reads (and FastAPI parses) the body, i.e. in
middleware, before the router has matched. So the declared routes are compiled, once,
into one regular expression per HTTP method: the alternation of every route's path
pattern in route order. Python's ``re`` tries the alternatives in order and the first
that matches the whole path names the route, which is exactly the route Starlette's
router picks (the first full match on path and method). Routes after the last declared
one cannot change an answer and are left out, so an app that declares nothing costs one
dictionary lookup per request.

The table is compiled on the first request (routes added before then count); a
request's answer is kept in its scope, so every middleware asking about it pays once,
and the answers of the last few thousand (method, path) pairs are remembered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.routing import Mount, Route, compile_path
from starlette.types import Scope

from vaxport.core.http.dependencies import iter_routes, route_class_marker

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_KNOWN_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_SCOPE_KEY = "vaxport.route_policy"
_SEEN_MAX = 4096
_NAMED_GROUP = re.compile(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>")


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    """A request's rate-limit class and its body ceiling in bytes."""

    rate_class: str
    body_limit: int


@dataclass(frozen=True, slots=True)
class _Entry:
    pattern: str  # anchored-free regex body of the route's full path
    methods: frozenset[str] | None  # None: every method (mounts)
    rate: str | None
    upload: bool


class RouteTable:
    """Maps (method, path) to a :class:`RoutePolicy`; see the module docstring."""

    def __init__(self, router: Any, *, max_body_bytes: int, upload_max_bytes: int) -> None:
        self._router = router  # read at compile time: routes may be replaced until then
        self._json = max_body_bytes
        self._upload = upload_max_bytes
        self._default = RoutePolicy("default", max_body_bytes)
        self._write = RoutePolicy("write", max_body_bytes)
        self._compiled: dict[str, tuple[re.Pattern[str], list[RoutePolicy | None]]] | None = None
        # Answers by (method, path): the alternation costs microseconds a request, and the
        # paths clients repeat (configuration, directory, token refresh) are few. Bounded.
        self._seen: dict[tuple[str, str], RoutePolicy] = {}

    def policy(self, scope: Scope) -> RoutePolicy:
        """The policy of this request (computed once per request)."""
        found: RoutePolicy | None = scope.get(_SCOPE_KEY)
        if found is not None:
            return found
        method = scope["method"]
        path = _route_path(scope)
        seen = self._seen.get((method, path))
        if seen is not None:
            scope[_SCOPE_KEY] = seen
            return seen
        if self._compiled is None:
            self._compiled = self._compile()
        fallback = self._write if method in UNSAFE_METHODS else self._default
        policy = fallback
        table = self._compiled.get(method)
        if table is not None:
            regex, policies = table
            match = regex.fullmatch(path)
            if match is not None and match.lastgroup is not None:
                policy = policies[int(match.lastgroup[1:])] or fallback
        if len(self._seen) >= _SEEN_MAX:
            self._seen.clear()
        self._seen[(method, path)] = policy
        scope[_SCOPE_KEY] = policy
        return policy

    def _compile(self) -> dict[str, tuple[re.Pattern[str], list[RoutePolicy | None]]]:
        entries = list(_entries(self._router.routes))
        compiled: dict[str, tuple[re.Pattern[str], list[RoutePolicy | None]]] = {}
        methods = {m for e in entries if e.methods for m in e.methods} | set(_KNOWN_METHODS)
        for method in methods:
            mine = [e for e in entries if e.methods is None or method in e.methods]
            last = max((i for i, e in enumerate(mine) if e.rate or e.upload), default=-1)
            if last < 0:
                continue  # nothing declared for this method: the fallback answers
            mine = mine[: last + 1]
            pattern = "|".join(f"(?P<r{i}>{e.pattern})" for i, e in enumerate(mine))
            policies = [self._entry_policy(e, method) for e in mine]
            compiled[method] = (re.compile(pattern), policies)
        return compiled

    def _entry_policy(self, entry: _Entry, method: str) -> RoutePolicy | None:
        if entry.rate is None and not entry.upload:
            return None
        rate = entry.rate or ("write" if method in UNSAFE_METHODS else "default")
        return RoutePolicy(rate, self._upload if entry.upload else self._json)


def _entries(routes: Any) -> Any:
    for path, route, dependencies in iter_routes(routes):
        if isinstance(route, Mount):
            regex, _, _ = compile_path(path.rstrip("/") + "/{path:path}")
            yield _Entry(_body(regex), None, None, False)
        elif isinstance(route, Route):  # FastAPI's APIRoute included
            methods = route.methods
            rate, upload = route_class_marker(dependencies)
            regex, _, _ = compile_path(path)
            yield _Entry(_body(regex), frozenset(methods) if methods else None, rate, upload)
        # Websocket routes and hosts carry no HTTP body and no class.


def _body(regex: re.Pattern[str]) -> str:
    """A route regex without anchors or group names, ready to join an alternation."""
    pattern = regex.pattern.removeprefix("^").removesuffix("$")
    return _NAMED_GROUP.sub("(?:", pattern)


def _route_path(scope: Scope) -> str:
    """The path the router matches: without the ``root_path`` (as Starlette strips it)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    if path == root:
        return ""
    return path[len(root) :] if path[len(root)] == "/" else path
