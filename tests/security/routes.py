"""The registry of how to call each write route successfully, and what is exempt.

Every unsafe route under ``/api/v1`` (POST, PUT, PATCH, DELETE) must either have a
*recipe* here or an entry in :data:`NOT_AUDITED` with the reason it writes nothing a
person's record or the security of an account depends on. ``test_audit_walk`` fails on a
route that has neither, naming it, so a new route cannot slip past the audit rule.

A recipe is an ``async`` function taking the :class:`~tests.security.world.World`: it
builds what the call needs (through the API or service functions: that part may audit
too, it is not counted), then returns a :class:`Call`. The walk sends the call itself
to the route's own path (``{tenant}`` filled in, other parameters from
``Call.path``), expects a 2xx, and looks for audit entries carrying that response's
request id. Add one with::

    @recipe("POST", "/api/v1/{tenant}/things/{thing_id}/close")
    async def close_thing(w: World) -> Call:
        thing = await w.ok("POST", "/things", json={...}, headers=w.admin_auth)
        return Call(path={"thing_id": thing.json()["id"]}, headers=w.admin_auth)

in a module of ``tests/security/recipes/`` (every module there is loaded).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel

from tests.security.world import World
from vaxport.core.http.dependencies import iter_routes
from vaxport.core.http.route_policy import UNSAFE_METHODS

API_PREFIX = "/api/v1/"

RouteKey = tuple[str, str]  # (method, path template)


@dataclass
class Call:
    """The request a recipe wants sent to its route."""

    path: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    params: dict[str, str] | None = None


Recipe = Callable[[World], Awaitable[Call]]
RECIPES: dict[RouteKey, Recipe] = {}
# Reads the clean-logs walk makes too (searches by ID number, a person's record...):
# optional, but every read that takes personal values in its path or query belongs here.
READS: dict[RouteKey, Recipe] = {}

# Writes that need no audit entry, each with its reason (a reviewer reads these).
NOT_AUDITED: dict[RouteKey, str] = {
    ("POST", "/api/v1/{tenant}/auth/code"): (
        "sends a citizen a one-time code: a code transaction and a queued message (its "
        "destination encrypted); no account is created or changed here (the first login "
        "creates it, audited at /auth/code/verify), and the answer is the same for "
        "destinations nobody holds"
    ),
    ("POST", "/api/v1/{tenant}/auth/recovery"): (
        "sends the codes of a move to a new phone; the account changes only at "
        "/auth/recovery/verify, which is audited, refused attempts included"
    ),
    ("POST", "/api/v1/{tenant}/beneficiaries/{beneficiary_id}/contact-codes"): (
        "sends a one-time code proving a new phone or e-mail for a member; the record "
        "changes only when a PATCH of that member carries the code, which is audited"
    ),
    ("POST", "/api/v1/{tenant}/auth/enrolment"): (
        "proposes a TOTP secret held in the ticket until confirmed; nothing is stored on "
        "the account before /auth/enrolment/confirm, which is audited"
    ),
    ("POST", "/api/v1/{tenant}/auth/refresh"): (
        "rotates the session's refresh token (same session, same person, no personal data); "
        "the session's opening and its revocation, including reuse, are audited"
    ),
    ("POST", "/api/v1/{tenant}/me/totp"): (
        "proposes a new TOTP secret kept pending; the account changes only at "
        "/me/totp/confirm, which is audited"
    ),
    ("POST", "/api/v1/verify"): (
        "verifies a certificate anyone holds: reads the trust list, writes nothing, and the "
        "answer discloses only what the certificate itself shows its verifier"
    ),
    ("POST", "/api/v1/{tenant}/notifications/callbacks/{channel_name}"): (
        "a provider's signed delivery report: sets a message's delivery status, writes no "
        "personal data and reads no one's record; the actor is the provider, not a person"
    ),
}


def recipe(method: str, path: str) -> Callable[[Recipe], Recipe]:
    """Register the decorated function as the way to call ``method path`` successfully."""

    def register(fn: Recipe) -> Recipe:
        key = (method.upper(), path)
        if key in RECIPES:
            raise ValueError(f"two recipes for {method} {path}")
        RECIPES[key] = fn
        return fn

    return register


def read(method: str, path: str) -> Callable[[Recipe], Recipe]:
    """Register the decorated function as a read for the clean-logs walk (see READS)."""

    def register(fn: Recipe) -> Recipe:
        READS[(method.upper(), path)] = fn
        return fn

    return register


def load_recipes() -> dict[RouteKey, Recipe]:
    """Import every module of ``tests.security.recipes`` (they register themselves)."""
    from tests.security import recipes

    for module in pkgutil.iter_modules(recipes.__path__):
        importlib.import_module(f"{recipes.__name__}.{module.name}")
    return RECIPES


async def send(world: World, method: str, path: str, call: Call) -> Any:
    """Send ``call`` to the route ``method path`` (its ``{tenant}`` is the world's)."""
    url = path.format(tenant=world.tenant.code, **call.path)
    return await world.client.request(
        method, url, headers=call.headers, json=call.json, content=call.content, params=call.params
    )


def write_routes(app: Any) -> Iterator[RouteKey]:
    """``(method, path)`` of every unsafe API route of ``app``, in route order."""
    for path, route, _deps in iter_routes(app.routes):
        if not path.startswith(API_PREFIX):
            continue
        for method in sorted(getattr(route, "methods", None) or ()):
            if method in UNSAFE_METHODS:
                yield method, path


def field_names(annotation: Any, seen: set[type] | None = None) -> Iterator[str]:
    """Field names (and aliases) of a pydantic model annotation, nested models included."""
    seen = set() if seen is None else seen
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return
        seen.add(annotation)
        for name, info in annotation.model_fields.items():
            yield info.alias or name
            yield name
            yield from field_names(info.annotation, seen)
    for arg in getattr(annotation, "__args__", ()) or ():
        yield from field_names(arg, seen)


_GROUPS = ("path_params", "query_params", "header_params", "cookie_params", "body_params")


def parameter_names(dependant: Any, *, path: bool = True) -> Iterator[str]:
    """Every name a request can carry to a route (JSON body fields and nested models, form
    fields, query, header, cookie and, with ``path``, path parameters), through its
    dependencies too."""
    for group in _GROUPS if path else _GROUPS[1:]:
        for param in getattr(dependant, group, ()):
            yield param.alias
            yield param.name
            yield from field_names(param.field_info.annotation)
    for sub in dependant.dependencies:
        yield from parameter_names(sub, path=path)


def routes_naming(
    app: Any, pattern: re.Pattern[str], *, methods: frozenset[str] | None = None, path: bool = True
) -> set[RouteKey]:
    """``(method, path)`` of every route with a parameter named like ``pattern``."""
    found: set[RouteKey] = set()
    for template, route, _deps in iter_routes(app.routes):
        if not isinstance(route, APIRoute):
            continue
        if any(pattern.search(n) for n in parameter_names(route.dependant, path=path)):
            for method in route.methods or ():
                if method != "HEAD" and (methods is None or method in methods):
                    found.add((method, template))
    return found


def all_routes(app: Any) -> set[RouteKey]:
    """``(method, path)`` of every route of ``app``."""
    return {
        (method, template)
        for template, route, _deps in iter_routes(app.routes)
        for method in getattr(route, "methods", None) or ()
    }
