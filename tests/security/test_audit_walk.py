"""Every write route adds an audit entry in the act's own request (issue 3).

The walk takes the routes from the app itself, so a route added later is walked too:
it needs a recipe (how to call it successfully) or a reasoned exemption in
``tests/security/routes.py``, else this test fails naming it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.security.routes import NOT_AUDITED, RECIPES, load_recipes, send, write_routes
from tests.security.world import World
from vaxport.core.audit.models import AuditEntry


def _missing_recipe_message(missing: list[tuple[str, str]]) -> str:
    routes = "\n".join(f"  {method} {path}" for method, path in missing)
    return (
        f"{len(missing)} write route(s) have no recipe and no NOT_AUDITED reason:\n{routes}\n"
        "Add a @recipe(method, path) in a module of tests/security/recipes/ that returns the "
        "Call making the route succeed (see tests/security/routes.py), or, if the route "
        "writes nothing personal or security-relevant, a NOT_AUDITED entry with the reason."
    )


def test_every_write_route_has_a_recipe_or_a_reason(app: Any) -> None:
    load_recipes()
    routes = list(write_routes(app))
    assert len(routes) >= 20, "the walk found too few routes: is iter_routes still right?"
    missing = [key for key in routes if key not in RECIPES and key not in NOT_AUDITED]
    assert not missing, _missing_recipe_message(missing)
    both = sorted(set(RECIPES) & set(NOT_AUDITED))
    assert not both, f"routes both exempt and walked: {both}"
    stale = sorted((set(RECIPES) | set(NOT_AUDITED)) - set(routes))
    assert not stale, f"recipes or exemptions for routes that no longer exist: {stale}"
    assert all(len(reason) > 40 for reason in NOT_AUDITED.values()), "say why, in a sentence"


async def _entries_of_request(world: World, request_id: str) -> list[str]:
    async with world.db.read(tenant_id=world.tenant.id) as session:
        rows = await session.execute(
            select(AuditEntry.action).where(
                AuditEntry.tenant_id == world.tenant.id, AuditEntry.request_id == request_id
            )
        )
        return [str(action) for action in rows.scalars()]


async def test_every_write_route_adds_an_audit_entry(app: Any, world: World) -> None:
    load_recipes()
    failures: list[str] = []
    walked = 0
    for method, path in write_routes(app):
        make = RECIPES.get((method, path))
        if make is None:
            continue  # exempt, or reported by the test above
        call = await make(world)
        resp = await send(world, method, path, call)
        walked += 1
        if resp.status_code >= 300:
            failures.append(f"{method} {path}: recipe got {resp.status_code} {resp.text[:200]}")
            continue
        actions = await _entries_of_request(world, resp.headers["x-request-id"])
        if not actions:
            failures.append(f"{method} {path}: succeeded ({resp.status_code}) with no audit entry")
    assert walked == len(RECIPES)
    assert not failures, "\n".join(failures)
