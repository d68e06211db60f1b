"""A stored answer is replayed only to a caller who still passes the route's gate (issue 12, 7).

The class walk takes every write route with a recipe (routes added later join through
their recipe): it stores an answer under an ``Idempotency-Key``, takes the route's
permission away from every role, and retries: the gate that refuses a fresh request must
refuse the retry (403; 401 where the first call ended the session), and nothing of the
stored answer may come back. Public routes have no gate to pass; they are listed, and
must be credential routes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from tests.identity.helpers import bearer
from tests.registration.helpers import member
from tests.security.keyed import send_keyed
from tests.security.routes import RECIPES, Call, load_recipes, write_routes
from tests.security.world import World
from vaxport.core import clock
from vaxport.core.http.dependencies import iter_routes, route_permission
from vaxport.identity.access import policy


def _permissions(app: Any) -> dict[tuple[str, str], tuple[str, bool]]:
    found: dict[tuple[str, str], tuple[str, bool]] = {}
    for path, route, deps in iter_routes(app.routes):
        marker = route_permission(route, deps)
        for method in getattr(route, "methods", None) or ():
            if marker is not None:
                found[(method, path)] = marker
    return found


def _revoked(permission: str) -> Callable[[str, str], bool]:
    granted = policy.has_permission

    def has_permission(role: str, wanted: str) -> bool:
        return wanted != permission and granted(role, wanted)

    return has_permission


async def test_every_replay_is_refused_once_the_permission_is_gone(
    app: Any, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_recipes()
    permissions = _permissions(app)
    failures: list[str] = []
    public: list[str] = []
    gated = 0
    for n, (method, path) in enumerate(write_routes(app)):
        make = RECIPES.get((method, path))
        if make is None:
            continue
        permission, is_public = permissions[(method, path)]
        if is_public:
            public.append(f"{method} {path}")
            continue
        call = await make(world)
        first = await send_keyed(world, method, path, call, f"gate-{n}")
        assert first.status_code < 300, f"{method} {path}: {first.status_code} {first.text}"
        with monkeypatch.context() as m:
            m.setattr(policy, "has_permission", _revoked(permission))
            retry = await send_keyed(world, method, path, call, f"gate-{n}")
        gated += 1
        # 403: the gate; 401 where the first call itself ended the session (logout).
        if retry.status_code not in (401, 403) or "idempotent-replayed" in retry.headers:
            failures.append(f"{method} {path}: replayed with {retry.status_code} after revoking")
        elif first.content and first.content in retry.content:
            failures.append(f"{method} {path}: the refusal carries the stored answer")
    assert gated >= 20, "the walk gated too few routes"
    assert not failures, "\n".join(failures)
    # Only credential routes are public writes: they check a secret instead of a role.
    assert all("/auth/" in route for route in public), public


async def test_a_vaccinator_turned_analyst_cannot_replay_a_registration(world: World) -> None:
    path = "/api/v1/{tenant}/beneficiaries/walk-ins"
    vaccinator = await world.staff("vaccinator", facility_id=await world.facility())
    call = Call(headers=await world.auth(vaccinator), json=member(region_code="NOR-01-02"))
    first = await send_keyed(world, "POST", path, call, "walk-in-then-analyst")
    assert first.status_code == 201
    changed = await world.client.patch(
        world.api + f"/staff/{vaccinator.id}",
        json={"role": "analyst", "region_code": "NOR"},
        headers=world.admin_auth,
    )
    assert changed.status_code == 200, changed.text
    # The old token stopped working; the same account signs in again, as an analyst.
    login = await world.client.post(
        world.api + "/auth/login",
        json={"username": vaccinator.username, "password": vaccinator.password},
    )
    later = clock.utcnow() + dt.timedelta(seconds=30)  # a TOTP step not used yet
    signed = await world.client.post(
        world.api + "/auth/second-factor",
        json={"ticket": login.json()["ticket"], "code": vaccinator.code(later)},
    )
    assert signed.status_code == 200, signed.text
    analyst = Call(headers=bearer(signed.json()["access_token"]), json=call.json)
    retry = await send_keyed(world, "POST", path, analyst, "walk-in-then-analyst")
    assert retry.status_code == 403
    assert retry.headers["content-type"] == "application/problem+json"
    assert "idempotent-replayed" not in retry.headers
    assert first.json()["family_name"] not in retry.text
