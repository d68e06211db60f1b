"""What a route tells the idempotency store about its answer, and the replay's gate.

A route whose answer concerns one person says so with :func:`answer_concerns` (the
stored copy is then sealed under that person's key, and erasing them shreds it); a route
whose answer carries a one-time secret next to data a retry needs (a walk-in's slip
claim code) names the secret fields with :func:`withhold_from_replay`: the stored copy
has them set to ``null`` and a replay says which with ``Idempotent-Withheld``. Answers
that are secrets through and through (tokens, one-time links, recovery codes) set
``Cache-Control: no-store`` themselves and are not kept at all (the key stays bound to
the request that used it).
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.routing import Match, Route
from starlette.types import Receive, Scope

from vaxport.core.errors import Problem
from vaxport.core.http.dependencies import PERMISSION_ATTR, iter_routes

SUBJECT = "vaxport.idempotency.subject"
WITHHELD = "vaxport.idempotency.withheld"


def answer_concerns(conn: HTTPConnection, subject_id: uuid.UUID) -> None:
    """Say the answer of this request is about the person ``subject_id``."""
    conn.scope.setdefault("state", {})[SUBJECT] = subject_id


def withhold_from_replay(conn: HTTPConnection, *fields: str) -> None:
    """Name the answer's top-level fields that are secrets: never stored, never replayed."""
    state = conn.scope.setdefault("state", {})
    state[WITHHELD] = (*state.get(WITHHELD, ()), *fields)


def subject_of(scope: Scope) -> uuid.UUID | None:
    """The person the route said its answer concerns, if any."""
    value = (scope.get("state") or {}).get(SUBJECT)
    return value if isinstance(value, uuid.UUID) else None


def withheld_of(scope: Scope) -> tuple[str, ...]:
    """The secret fields the route named."""
    return tuple((scope.get("state") or {}).get(WITHHELD, ()))


async def replay_refused(scope: Scope, receive: Receive) -> Problem | None:
    """Run the permission gate of the route this request goes to, as a fresh request would.

    A stored answer is the caller's only while they may still make the request: a role
    changed since (vaccinator to analyst), a tenant left, a CSRF token gone, all refuse
    the replay with the gate's own answer (401/403/404). ``None``: go ahead.
    """
    app: Any = scope.get("app")
    if app is None:
        return None
    for _path, route, deps in iter_routes(app.router.routes):
        if not isinstance(route, Route):
            continue
        match, child = route.matches(scope)
        if match != Match.FULL:
            continue
        request = Request({**scope, **child}, receive)
        for dep in deps:
            if getattr(dep.dependency, PERMISSION_ATTR, None) is None:
                continue
            try:
                await dep.dependency(request)
            except Problem as refused:
                return refused
        return None
    return None
