"""FastAPI glue shared by every context's routes: dependencies and permission markers.

Routes stay thin: they take :class:`Ctx` (database, cache, settings), declare their
permission with :func:`requires`, call one service function and shape the answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.errors import Unauthorized
from vaxport.settings import Settings

PERMISSION_ATTR = "__vaxport_permission__"


@dataclass(frozen=True, slots=True)
class Context:
    """What a route needs from the process: the database, the cache, the settings."""

    db: Database
    cache: Cache
    settings: Settings


def _context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


Ctx = Annotated[Context, Depends(_context)]

# Installed by the identity context: (request, permission) -> None, raising on refusal.
PermissionCheck = Callable[[Request, str], Awaitable[None]]


def requires(permission: str, *, public: bool = False) -> Any:
    """Declare (and enforce) the permission of a route: ``"<resource>:<action>"``.

    ``public=True`` marks routes anyone may call (health, public directory, verify).
    Every route must carry one of these; a test walks ``app.routes`` to prove it.
    """

    async def check(request: Request) -> None:
        if public:
            return
        checker: PermissionCheck | None = getattr(request.app.state, "permission_check", None)
        if checker is None:
            raise Unauthorized("authentication is required")
        await checker(request, permission)

    setattr(check, PERMISSION_ATTR, (permission, public))
    return Depends(check)


def route_permission(route: Any) -> tuple[str, bool] | None:
    """The permission a route declared via :func:`requires`, if any."""
    for dep in getattr(route, "dependencies", []) or []:
        marker = getattr(dep.dependency, PERMISSION_ATTR, None)
        if marker is not None:
            permission, public = marker
            return str(permission), bool(public)
    return None
