"""FastAPI glue shared by every context's routes: dependencies and permission markers.

Routes stay thin: they take :class:`Ctx` (database, cache, settings), declare their
permission with :func:`requires`, call one service function and shape the answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from fastapi import Depends, Request

from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.errors import Unauthorized
from vaxport.core.i18n import N_
from vaxport.settings import Settings

PERMISSION_ATTR = "__vaxport_permission__"
ROUTE_CLASS_ATTR = "__vaxport_route_class__"

# What a route costs and risks, for rate limits and body limits (see core/http/route_policy.py).
# Undeclared: "write" for POST/PUT/PATCH/DELETE, "default" otherwise.
RouteClass = Literal[
    "code_request",
    "login",
    "public_search",
    "verification",
    "booking",
    "write",
    "default",
    # Not a route's class but an outcome's: answers that disclose whether an identity
    # document is registered (core/http/ratelimit.py ``outcome_budget``).
    "id_check",
]
ROUTE_CLASSES: tuple[str, ...] = get_args(RouteClass)


@dataclass(frozen=True, slots=True)
class Context:
    """What a route needs from the process: the database, the cache, the settings."""

    db: Database
    cache: Cache
    settings: Settings


async def _context(request: Request) -> Context:
    # async: FastAPI runs a plain ``def`` dependency in a worker thread, per request.
    ctx: Context = request.app.state.ctx
    return ctx


Ctx = Annotated[Context, Depends(_context)]

# Installed by the identity context: (request, permission) -> None, raising on refusal.
PermissionCheck = Callable[[Request, str], Awaitable[None]]


def requires(
    permission: str,
    *,
    public: bool = False,
    rate: RouteClass | None = None,
    upload: bool = False,
) -> Any:
    """Declare (and enforce) the permission of a route: ``"<resource>:<action>"``.

    ``public=True`` marks routes anyone may call (health, public directory, verify).
    Every route must carry one of these; a test walks ``app.routes`` to prove it.
    ``rate`` names the route's rate-limit class (``"login"``, ``"code_request"``,
    ``"public_search"``, ``"verification"``...; undeclared: ``"write"`` for unsafe
    methods, ``"default"`` otherwise); ``upload=True`` lets its body grow to
    ``VAXPORT_UPLOAD_MAX_BYTES`` instead of ``VAXPORT_MAX_BODY_BYTES``. Both are enforced
    by middleware before the body is read, from a table compiled from these markers.
    """
    if rate is not None and rate not in ROUTE_CLASSES:
        raise ValueError(f"unknown route class {rate!r}; one of {', '.join(ROUTE_CLASSES)}")

    async def check(request: Request) -> None:
        if public:
            return
        checker: PermissionCheck | None = getattr(request.app.state, "permission_check", None)
        if checker is None:
            raise Unauthorized(N_("authentication is required"))
        await checker(request, permission)

    setattr(check, PERMISSION_ATTR, (permission, public))
    setattr(check, ROUTE_CLASS_ATTR, (rate, upload))
    return Depends(check)


def iter_routes(routes: Any, prefix: str = "", inherited: tuple[Any, ...] = ()) -> Any:
    """Yield ``(full_path, route, dependencies)`` for every endpoint, through included routers.

    Recent FastAPI versions keep included routers as nodes in ``app.routes`` rather than
    copying their routes, so a flat walk would silently miss them.
    """
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:
            ctx = route.include_context
            yield from iter_routes(
                original.routes, prefix + ctx.prefix, (*inherited, *ctx.dependencies)
            )
            continue
        path = prefix + getattr(route, "path", "")
        yield path, route, (*inherited, *(getattr(route, "dependencies", None) or ()))


def route_permission(route: Any, dependencies: Any = None) -> tuple[str, bool] | None:
    """The permission a route declared via :func:`requires`, if any."""
    deps = dependencies if dependencies is not None else getattr(route, "dependencies", [])
    for dep in deps or []:
        marker = getattr(dep.dependency, PERMISSION_ATTR, None)
        if marker is not None:
            permission, public = marker
            return str(permission), bool(public)
    return None


def route_class_marker(dependencies: Any) -> tuple[str | None, bool]:
    """``(rate class or None, upload)`` declared via :func:`requires` (``(None, False)``)."""
    for dep in dependencies or []:
        marker = getattr(dep.dependency, ROUTE_CLASS_ATTR, None)
        if marker is not None:
            rate, upload = marker
            return rate, bool(upload)
    return None, False
