"""Every page renders for whoever is signed in, whatever page it is.

A staff member signed in who opened an activation link (``/staff/activate``: a
colleague's invitation, or their own) got a 500: the staff layout shows its menu to a
signed-in actor and reads the page's ``nav_current``, which only pages written for
signed-in staff set (templates render with ``StrictUndefined``). This walk takes every
page route of the app (a ``GET`` outside ``/api``, ``/fhir``, ``/shc``, ``/dev`` and
static files) and opens it with a session cookie of a national administrator, of a
vaccinator and of a citizen, path parameters filled with ids nobody holds: no answer may
be a server error, neither bare nor with every query parameter it reads given text of the
wrong shape (the people search re-rendering its form with an error answered 500: its
macro used ``error_text`` without importing it).

No address may carry a NUL either (``/staff/today?facility_id=a%00b`` reached PostgreSQL,
which refuses NUL in text: 500): every GET route, API and FHIR too, answers 400
problem+json for one in a path parameter or in the query.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from fastapi.routing import APIRoute

from tests.registration.review.review_support import add_citizen, web_session
from tests.security.world import World
from vaxport.core.http.dependencies import iter_routes
from vaxport.identity.access.csrf import FIELD, csrf_cookie

NOT_PAGES = ("/api/", "/fhir/", "/shc/", "/dev/", "/static/", "/.well-known/")
PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def page_routes(app: Any) -> dict[str, set[str]]:
    """Path templates of every page route under a tenant, with the query names it reads."""
    return {
        path: _query_names(route.dependant)
        for path, route, _deps in sorted(iter_routes(app.routes), key=lambda r: r[0])
        if isinstance(route, APIRoute)
        and "GET" in (route.methods or ())
        and path.startswith("/{tenant}/")
        and not path.startswith(tuple("/{tenant}" + p for p in NOT_PAGES))
    }


def _query_names(dependant: Any) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _fill(path: str, tenant: str, spoil: str | None = None) -> str:
    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "tenant":
            return tenant
        if spoil is not None:
            return spoil
        if name == "day":
            return (dt.date.today() + dt.timedelta(days=2)).isoformat()
        return str(uuid.uuid4()) if name.endswith("id") else "x"

    return PARAM.sub(value, path)


async def test_every_page_renders_for_every_kind_of_signed_in_person(
    app: Any, world: World
) -> None:
    pages = page_routes(app)
    assert len(pages) >= 40, f"the walk found too few pages: {len(pages)}"
    people = {
        "national admin": world.admin.id,
        "vaccinator": (await world.staff("vaccinator", facility_id=await world.facility())).id,
        "citizen": await add_citizen(world.db, world.tenant),
    }
    failures = []
    for who, account in people.items():
        world.client.cookies.clear()
        world.client.cookies.set(
            "vaxport_session", await web_session(world.db, world.settings, world.tenant, account)
        )
        for path, names in pages.items():
            url = _fill(path, world.tenant.code)
            for params in ({}, dict.fromkeys(names, "!x")):
                try:
                    resp = await world.client.get(
                        url, params=params, headers={"accept": "text/html"}
                    )
                except Exception as exc:  # the test transport re-raises what answered 500
                    failures.append(f"  {path} {params} as {who}: {type(exc).__name__}: {exc}")
                    continue
                if resp.status_code >= 500:
                    failures.append(f"  {path} {params} as {who}: {resp.status_code}")
    world.client.cookies.clear()
    assert not failures, "pages that fail for someone signed in:\n" + "\n".join(failures)


async def test_no_route_takes_an_address_holding_a_nul(app: Any, world: World) -> None:
    routes = {
        path: _query_names(route.dependant)
        for path, route, _deps in iter_routes(app.routes)
        if isinstance(route, APIRoute) and "GET" in (route.methods or ())
    }
    world.client.cookies.set(
        "vaxport_session",
        await web_session(world.db, world.settings, world.tenant, world.admin.id),
    )
    failures = []
    walked = 0
    for path, names in sorted(routes.items()):
        urls = []
        if [n for n in PARAM.findall(path) if n != "tenant"]:
            urls.append((_fill(path, world.tenant.code, spoil="a%00b"), {}))
        if names:
            urls.append((_fill(path, world.tenant.code), dict.fromkeys(names, "a\x00b")))
        for url, params in urls:
            walked += 1
            resp = await world.client.get(url, params=params, headers=world.admin_auth)
            media = resp.headers.get("content-type", "")
            if resp.status_code != 400 or "problem+json" not in media:
                failures.append(f"  {path} {sorted(params)}: {resp.status_code} {media}")
    world.client.cookies.clear()
    assert walked >= 60, f"the walk sent too few addresses: {walked}"
    assert not failures, "addresses with a NUL not refused:\n" + "\n".join(failures)


def form_routes(app: Any) -> dict[str, list[str]]:
    """Path templates of every page taking a form (a ``POST`` outside the API), with the
    form fields it reads."""
    return {
        path: names
        for path, route, _deps in sorted(iter_routes(app.routes), key=lambda r: r[0])
        if isinstance(route, APIRoute)
        and "POST" in (route.methods or ())
        and path.startswith("/{tenant}/")
        and not path.startswith(tuple("/{tenant}" + p for p in NOT_PAGES))
        and (names := sorted({p.alias for p in route.dependant.body_params}))
    }


async def test_no_page_takes_a_form_holding_a_nul(app: Any, world: World) -> None:
    """A NUL in a form field (``%00``) is a 422 naming the field on every page, before any
    handler reads it: PostgreSQL text refuses one, and no field of ours means one."""
    forms = form_routes(app)
    assert len(forms) >= 20, f"the walk found too few forms: {len(forms)}"
    world.client.cookies.set(
        "vaxport_session",
        await web_session(world.db, world.settings, world.tenant, world.admin.id),
    )
    token = "t" * 43
    world.client.cookies.set(csrf_cookie(world.settings), token)
    failures = []
    for path, names in forms.items():
        fields = [n for n in names if n != FIELD]
        if not fields:
            continue
        body = f"{FIELD}={token}&" + "&".join(f"{n}=a%00b" for n in fields)
        resp = await world.client.post(
            _fill(path, world.tenant.code),
            content=body.encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        problem = "problem+json" in resp.headers.get("content-type", "")
        named = [e.get("field") for e in resp.json().get("errors", [])] if problem else []
        if resp.status_code != 422 or fields[0] not in named:
            failures.append(f"  {path} {fields[0]}: {resp.status_code} {named}")
    world.client.cookies.clear()
    assert not failures, "forms holding a NUL not refused by name:\n" + "\n".join(failures)
