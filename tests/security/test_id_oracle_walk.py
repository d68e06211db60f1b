"""No route tells a stranger whether someone holds an ID number (issue 12, finding 8).

A citizen's correction request answered 409 for a number another record held and 201
for a fresh one: any account could test 300 numbers a minute. This walk takes the routes
from the app (API and pages): a route *takes an ID number* when one of its parameters is
named like one (:data:`ID_NAME`, nested models and form fields included) or it is listed
in :data:`TAKES_ID_NUMBER` (a number its names do not show). Each such route must have a
probe (:data:`PROBES`) or be listed in :data:`DISCLOSES` with the documented reason.

A probe calls the route as a stranger would (a citizen, or nobody for public routes)
once with a number another person's record holds and once with a fresh one; the two
answers must be indistinguishable: status, media type, header names, the body's shape
(JSON keys all the way down, problem type and title, errors) or, for a page, its text
with ids and tokens blanked. A staff-only route passes by refusing both alike.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.registration.helpers import member, national_id
from tests.registration.review.review_support import add_citizen, add_person, web_session
from tests.security.routes import all_routes, routes_naming
from tests.security.world import World

ID_NAME = re.compile(r"^(id_number|number|documents|passport_number|national_id)$")
API = "/api/v1/{tenant}"
RouteKey = tuple[str, str]
Probe = Callable[[World, str], Awaitable[httpx.Response]]

# Routes that take an ID number under a name the walk cannot see.
TAKES_ID_NUMBER: dict[RouteKey, str] = {
    ("POST", API + "/beneficiaries/{beneficiary_id}/corrections"): (
        "`value` is an ID number when `field` is id_number"
    ),
    ("POST", "/{tenant}/family/add"): "the registration form; the page reads its form itself",
    ("POST", "/{tenant}/family/{beneficiary_id}/correct"): (
        "the correction form (`value` of an id_number request); the page reads its form"
    ),
    ("POST", "/{tenant}/staff/walk-in"): "the walk-in form; the page reads its form itself",
}

# Routes whose answer does say that a number is registered, each with its reason.
DISCLOSES: dict[RouteKey, str] = {
    ("POST", API + "/beneficiaries"): (
        "registering a person under a taken ID document answers 409 already-registered "
        "with the recovery path, whoever holds it (docs/registration.md, 'One person per "
        "ID document'): the registrant must learn the person exists to claim the record "
        "instead of registering a duplicate; the unique index is the wall"
    ),
    ("POST", "/{tenant}/family/add"): "the page of POST /beneficiaries: the same rule",
}

PROBES: dict[RouteKey, Probe] = {}
HTML = {"accept": "text/html"}
CSRF = "c" * 40
WRONG_BIRTH = "1990-01-01"  # the taken number's holder was born in 1985


def probe(method: str, path: str) -> Callable[[Probe], Probe]:
    def register(fn: Probe) -> Probe:
        PROBES[(method, path)] = fn
        return fn

    return register


async def _citizen_browser(w: World) -> uuid.UUID:
    """A citizen signed in on ``w.client``'s cookies (a page session); their id."""
    account = await add_citizen(w.db, w.tenant)
    w.client.cookies.set("vaxport_session", await web_session(w.db, w.settings, w.tenant, account))
    w.client.cookies.set("vaxport_csrf", CSRF)
    return account


@probe("POST", API + "/beneficiaries/{beneficiary_id}/corrections")
async def _correction(w: World, number: str) -> httpx.Response:
    citizen, auth = await w.citizen()
    person = await add_person(w.db, w.tenant, account_id=citizen)
    body = {"field": "id_number", "value": number, "id_type": "national-id", "reason": "typo"}
    return await w.client.post(
        f"{w.api}/beneficiaries/{person}/corrections", json=body, headers=auth
    )


@probe("POST", "/{tenant}/family/{beneficiary_id}/correct")
async def _correction_page(w: World, number: str) -> httpx.Response:
    person = await add_person(w.db, w.tenant, account_id=await _citizen_browser(w))
    form = {
        "csrf_token": CSRF,
        "field": "id_number",
        "value": number,
        "id_type": "national-id",
        "reason": "typo",
    }
    url = f"/{w.tenant.code}/family/{person}/correct"
    return await w.client.post(url, data=form, headers=HTML)


@probe("POST", API + "/beneficiaries/claims/codes")
async def _claim_code(w: World, number: str) -> httpx.Response:
    _, auth = await w.citizen()
    body = {"id_type": "national-id", "number": number}
    return await w.client.post(f"{w.api}/beneficiaries/claims/codes", json=body, headers=auth)


@probe("POST", API + "/beneficiaries/claims")
async def _claim(w: World, number: str) -> httpx.Response:
    _, auth = await w.citizen()
    body = {"id_type": "national-id", "number": number, "code": "ABCDE12345"}
    return await w.client.post(f"{w.api}/beneficiaries/claims", json=body, headers=auth)


@probe("GET", API + "/beneficiaries/search")
async def _search(w: World, number: str) -> httpx.Response:
    _, auth = await w.citizen()
    params = {"id_type": "national-id", "number": number}
    return await w.client.get(f"{w.api}/beneficiaries/search", params=params, headers=auth)


@probe("POST", API + "/beneficiaries/walk-ins")
async def _walk_in(w: World, number: str) -> httpx.Response:
    _, auth = await w.citizen()
    body = member(documents=[{"id_type": "national-id", "number": number}])
    return await w.client.post(f"{w.api}/beneficiaries/walk-ins", json=body, headers=auth)


@probe("POST", "/{tenant}/staff/walk-in")
async def _walk_in_page(w: World, number: str) -> httpx.Response:
    await _citizen_browser(w)
    form = {
        "csrf_token": CSRF,
        "given_name": "Ibn",
        "family_name": "Sina",
        "sex": "male",
        "birth_date": "1980-08-01",
        "id_type": "national-id",
        "number": number,
        "region_code": "CEN-01-01",
    }
    return await w.client.post(f"/{w.tenant.code}/staff/walk-in", data=form, headers=HTML)


def _recovery(number: str) -> dict[str, str]:
    # Phones of their own each time: codes are capped per destination.
    return {
        "method": "id-dob",
        "new_phone": f"+1416555{secrets.randbelow(10_000):04d}",
        "phone": f"+1416555{secrets.randbelow(10_000):04d}",
        "id_type": "national-id",
        "id_number": number,
        "birth_date": WRONG_BIRTH,
    }


@probe("POST", API + "/auth/recovery")
async def _recovery_api(w: World, number: str) -> httpx.Response:
    return await w.client.post(f"{w.api}/auth/recovery", json=_recovery(number))


@probe("POST", "/{tenant}/recover")
async def _recovery_page(w: World, number: str) -> httpx.Response:
    w.client.cookies.set("vaxport_csrf", CSRF)
    form = {"csrf_token": CSRF, **_recovery(number)}
    return await w.client.post(f"/{w.tenant.code}/recover", data=form, headers=HTML)


_BLANKS = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # ids
    r"|[A-Za-z0-9_\-]{32,}"  # tokens, nonces
)


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__


def _answer(resp: httpx.Response, number: str) -> dict[str, Any]:
    """What a stranger can compare between two answers (ids, tokens and the number sent,
    which a page may show back in its form, aside)."""
    media = resp.headers.get("content-type", "")
    seen: dict[str, Any] = {
        "status": resp.status_code,
        "media": media,
        "headers": sorted(resp.headers.keys()),
    }
    if "json" in media:
        body = resp.json()
        seen["body"] = _shape(body)
        if "problem" in media:
            seen["problem"] = (body.get("type"), body.get("title"), body.get("errors"))
    else:
        seen["text"] = _BLANKS.sub("~", resp.text.replace(number, "#"))
    return seen


async def test_no_route_tells_a_stranger_whether_an_id_number_is_held(
    app: Any, world: World
) -> None:
    walked = routes_naming(app, ID_NAME) | set(TAKES_ID_NUMBER)
    assert len(walked) >= 10, "the walk found too few routes taking an ID number"
    missing = sorted(k for k in walked if k not in PROBES and k not in DISCLOSES)
    assert not missing, (
        "routes that take an ID number with neither a probe nor a documented reason: "
        f"{missing} (see docs/security-testing.md)"
    )
    owner = await add_citizen(world.db, world.tenant)
    taken = national_id()
    await add_person(world.db, world.tenant, account_id=owner, number=taken)
    differ = []
    for key in sorted(k for k in walked if k in PROBES):
        answers = []
        for number in (taken, national_id()):
            world.client.cookies.clear()
            answers.append(_answer(await PROBES[key](world, number), number))
        world.client.cookies.clear()
        if answers[0] != answers[1]:
            differ.append(f"  {key[0]} {key[1]}:\n    held:  {answers[0]}\n    fresh: {answers[1]}")
        assert answers[0]["status"] < 500, (key, answers[0])
    assert not differ, "answers that tell whether a number is held:\n" + "\n".join(differ)
    stale = sorted((set(PROBES) | set(DISCLOSES) | set(TAKES_ID_NUMBER)) - all_routes(app))
    assert not stale, f"entries for routes that no longer exist: {stale}"
