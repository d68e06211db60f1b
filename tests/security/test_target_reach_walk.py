"""A write that places something somewhere needs authority over that place (issue 12).

A facility-scoped vaccinator could move their walk-ins to any region: the check of a move
looked at the person's facility (theirs) and not at the region they were sent to. This
walk takes every write route of the app whose parameters name a place as a target
(:data:`PLACE_NAME`: ``region_code``, ``facility_id``..., in a JSON body, nested models,
form fields or the query; not the path, which names the object itself) and every route
in :data:`TAKES_PLACE` (a place its parameter names do not show). Each must have cases
in :data:`CASES` or a reason in :data:`EXEMPT`. A case acts as staff of limited reach
(a vaccinator of one centre, a region administrator, a facility manager) and names a
place outside that reach; the answer must be a 403, 404 or 422 problem+json and no
table may change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import text

from tests.facilities.helpers import body as facility_body
from tests.registration.helpers import member
from tests.registration.review.review_support import web_session
from tests.security.routes import routes_naming
from tests.security.world import World
from tests.support.parts import METADATA

PLACE_NAME = re.compile(r"^(region_code|facility_id|region_id|region|facility)$")
API = "/api/v1/{tenant}"
WRITES = frozenset({"POST", "PUT", "PATCH"})
OUTSIDE = "CEN-01-01"  # a leaf outside NOR, where the limited actors below sit
RouteKey = tuple[str, str]
Send = Callable[[], Awaitable[httpx.Response]]
Case = Callable[[World], Awaitable[Send]]

TAKES_PLACE: dict[RouteKey, str] = {
    ("POST", "/{tenant}/staff/walk-in"): "the walk-in form (facility_id, region_code)",
    ("POST", "/{tenant}/family/add"): "the registration form (region_code)",
    ("POST", "/{tenant}/family/{beneficiary_id}/edit"): "the family edit form (region_code)",
    ("POST", API + "/facilities/import"): "each row's region_code (the body is a file)",
    ("POST", API + "/beneficiaries/imports"): "each row's region_code (the body is a file)",
    ("POST", "/{tenant}/staff/sessions/new"): "the publish form (facility_id, a centre's code)",
}
EXEMPT: dict[RouteKey, str] = {
    ("POST", "/{tenant}/family/add"): (
        "citizens have no jurisdiction: a family member is placed where they live"
    ),
    ("POST", "/{tenant}/family/{beneficiary_id}/edit"): "citizens: as /family/add",
    ("POST", API + "/facilities/import"): (
        "a file's rows are judged one by one: a row outside the importer's region is a row "
        "error and writes nothing (tests/facilities/test_import.py::"
        "test_a_regional_admin_imports_only_inside_their_region)"
    ),
    ("POST", API + "/beneficiaries/imports"): (
        "as the facility import (tests/registration/imports/test_import_api.py::"
        "test_a_regional_admins_upload_is_bounded_by_their_region)"
    ),
    ("POST", API + "/waitlist"): (
        "region_code is where the person would travel for a seat, placing nothing in a "
        "jurisdiction: the place belongs to the person (checked in reach, else 404; "
        "tests/scheduling/fairness/test_waitlist.py) and staff of their region see it"
    ),
}
CASES: dict[RouteKey, list[Case]] = {}
HTML = {"accept": "text/html"}
CSRF = "p" * 40


def case(method: str, path: str) -> Callable[[Case], Case]:
    def register(fn: Case) -> Case:
        CASES.setdefault((method, path), []).append(fn)
        return fn

    return register


async def _vaccinator(w: World) -> tuple[uuid.UUID, dict[str, str]]:
    """A vaccinator of a new centre in NOR-01-01: the centre and their headers."""
    centre = await w.facility()
    return centre, await w.auth(await w.staff("vaccinator", facility_id=centre))


async def _north_admin(w: World) -> dict[str, str]:
    return await w.auth(await w.staff("region_admin", region_code="NOR"))


@case("PATCH", API + "/beneficiaries/{beneficiary_id}")
async def _vaccinator_moves_a_walk_in(w: World) -> Send:
    _, auth = await _vaccinator(w)
    made = await w.ok(
        "POST", "/beneficiaries/walk-ins", json=member(region_code="NOR-01-02"), headers=auth
    )
    url = f"{w.api}/beneficiaries/{made.json()['id']}"
    return lambda: w.client.patch(url, json={"region_code": OUTSIDE}, headers=auth)


@case("PATCH", API + "/beneficiaries/{beneficiary_id}")
async def _region_admin_moves_a_person(w: World) -> Send:
    auth = await _north_admin(w)
    made = await w.ok("POST", "/beneficiaries", json=member(region_code="NOR-01-02"), headers=auth)
    url = f"{w.api}/beneficiaries/{made.json()['id']}"
    return lambda: w.client.patch(url, json={"region_code": OUTSIDE}, headers=auth)


@case("POST", API + "/beneficiaries")
async def _region_admin_registers_elsewhere(w: World) -> Send:
    auth = await _north_admin(w)
    body = member(region_code=OUTSIDE)
    return lambda: w.client.post(f"{w.api}/beneficiaries", json=body, headers=auth)


@case("POST", API + "/doses")
async def _vaccinator_records_a_dose_at_another_centre(w: World) -> Send:
    from tests.immunization.support import add_lot

    _, auth = await _vaccinator(w)
    other = await w.facility(region_code=OUTSIDE)
    made = await w.ok(
        "POST", "/beneficiaries/walk-ins", json=member(region_code="NOR-01-02"), headers=auth
    )
    await add_lot(w.db, w.tenant, "covid-mrna", "REACH-1")
    body = {
        "beneficiary_id": made.json()["id"],
        "product_id": "covid-mrna",
        "lot_number": "REACH-1",
        "facility_id": str(other),
    }
    return lambda: w.client.post(f"{w.api}/doses", json=body, headers=auth)


@case("POST", API + "/beneficiaries/walk-ins")
async def _vaccinator_names_another_centre(w: World) -> Send:
    _, auth = await _vaccinator(w)
    other = await w.facility(region_code=OUTSIDE)
    body = {**member(region_code="NOR-01-02"), "facility_id": str(other)}
    return lambda: w.client.post(f"{w.api}/beneficiaries/walk-ins", json=body, headers=auth)


@case("POST", API + "/beneficiaries/walk-ins")
async def _region_admin_names_a_centre_elsewhere(w: World) -> Send:
    auth = await _north_admin(w)
    other = await w.facility(region_code=OUTSIDE)
    body = {**member(region_code="NOR-01-02"), "facility_id": str(other)}
    return lambda: w.client.post(f"{w.api}/beneficiaries/walk-ins", json=body, headers=auth)


@case("POST", API + "/facilities")
async def _region_admin_opens_a_centre_elsewhere(w: World) -> Send:
    auth = await _north_admin(w)
    data = facility_body(code=f"OUT-{uuid.uuid4().hex[:6].upper()}", region_code=OUTSIDE)
    return lambda: w.client.post(f"{w.api}/facilities", json=data, headers=auth)


@case("PATCH", API + "/facilities/{facility_id}")
async def _region_admin_moves_a_centre(w: World) -> Send:
    auth = await _north_admin(w)
    centre = await w.facility()
    url = f"{w.api}/facilities/{centre}"
    return lambda: w.client.patch(url, json={"region_code": OUTSIDE}, headers=auth)


@case("PATCH", API + "/facilities/{facility_id}")
async def _manager_moves_their_centre(w: World) -> Send:
    centre = await w.facility()
    auth = await w.auth(await w.staff("facility_manager", facility_id=centre))
    url = f"{w.api}/facilities/{centre}"
    return lambda: w.client.patch(url, json={"region_code": OUTSIDE}, headers=auth)


def _invite(**scope: str) -> dict[str, str]:
    return {"username": f"sec{uuid.uuid4().hex[:8]}", "role": "vaccinator", **scope}


@case("POST", API + "/staff")
async def _region_admin_invites_elsewhere(w: World) -> Send:
    auth = await _north_admin(w)
    return lambda: w.client.post(f"{w.api}/staff", json=_invite(region_code="CEN"), headers=auth)


@case("POST", API + "/staff")
async def _region_admin_invites_to_a_centre_elsewhere(w: World) -> Send:
    auth = await _north_admin(w)
    other = str(await w.facility(region_code=OUTSIDE))
    return lambda: w.client.post(f"{w.api}/staff", json=_invite(facility_id=other), headers=auth)


@case("PATCH", API + "/staff/{account_id}")
async def _region_admin_moves_staff_elsewhere(w: World) -> Send:
    auth = await _north_admin(w)
    person = await w.staff("vaccinator", region_code="NOR")
    body = {"role": "vaccinator", "region_code": "CEN"}
    return lambda: w.client.patch(f"{w.api}/staff/{person.id}", json=body, headers=auth)


@case("PATCH", API + "/staff/{account_id}")
async def _manager_moves_their_staff_to_another_centre(w: World) -> Send:
    centre = await w.facility()
    auth = await w.auth(await w.staff("facility_manager", facility_id=centre))
    person = await w.staff("vaccinator", facility_id=centre)
    other = str(await w.facility(region_code=OUTSIDE))
    body = {"role": "vaccinator", "facility_id": other}
    return lambda: w.client.patch(f"{w.api}/staff/{person.id}", json=body, headers=auth)


async def _browser(w: World, role: str, **scope: Any) -> None:
    person = await w.staff(role, **scope)
    w.client.cookies.set(
        "vaxport_session", await web_session(w.db, w.settings, w.tenant, person.id)
    )
    w.client.cookies.set("vaxport_csrf", CSRF)


@case("POST", "/{tenant}/staff/team/invite")
async def _region_admin_invites_elsewhere_on_the_page(w: World) -> Send:
    await _browser(w, "region_admin", region_code="NOR")
    form = {"csrf_token": CSRF, **_invite(region_code="CEN"), "display_name": "X"}
    return lambda: w.client.post(f"/{w.tenant.code}/staff/team/invite", data=form, headers=HTML)


@case("POST", "/{tenant}/staff/walk-in")
async def _region_admin_names_a_centre_elsewhere_on_the_page(w: World) -> Send:
    other = str(await w.facility(region_code=OUTSIDE))
    await _browser(w, "region_admin", region_code="NOR")
    form = {
        "csrf_token": CSRF,
        "given_name": "Ibn",
        "family_name": "Sina",
        "sex": "male",
        "birth_date": "1980-08-01",
        "id_type": "national-id",
        "number": "",
        "region_code": "NOR-01-02",
        "facility_id": other,
    }
    return lambda: w.client.post(f"/{w.tenant.code}/staff/walk-in", data=form, headers=HTML)


def _session_body(centre: uuid.UUID) -> dict[str, Any]:
    day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=3)
    return {
        "facility_id": str(centre),
        "day": day.isoformat(),
        "start_time": "09:00",
        "end_time": "10:00",
        "product_id": "covid-mrna",
        "dose_numbers": [1],
        "capacity_per_slot": 2,
    }


@case("POST", API + "/sessions")
async def _manager_publishes_at_another_centre(w: World) -> Send:
    centre = await w.facility()
    auth = await w.auth(await w.staff("facility_manager", facility_id=centre))
    body = _session_body(await w.facility())
    return lambda: w.client.post(f"{w.api}/sessions", json=body, headers=auth)


@case("POST", API + "/sessions")
async def _region_admin_publishes_at_a_centre_elsewhere(w: World) -> Send:
    auth = await _north_admin(w)
    body = _session_body(await w.facility(region_code=OUTSIDE))
    return lambda: w.client.post(f"{w.api}/sessions", json=body, headers=auth)


@case("POST", "/{tenant}/staff/sessions/new")
async def _region_admin_publishes_at_a_centre_elsewhere_on_the_page(w: World) -> Send:
    other = str(await w.facility(region_code=OUTSIDE))
    await _browser(w, "region_admin", region_code="NOR")
    body = _session_body(uuid.uuid4())
    form = {**body, "csrf_token": CSRF, "facility_id": other, "dose_numbers": ["1"]}
    return lambda: w.client.post(f"/{w.tenant.code}/staff/sessions/new", data=form, headers=HTML)


async def _digest(w: World) -> dict[str, str]:
    """A fingerprint of every table's rows, every column, as the database stores them.

    Plain SQL: the values as the driver returns them, with no type processing (turning
    each stored id into a UUID and back was most of the peer walk's time)."""
    out = {}
    async with w.db.read(tenant_id=w.tenant.id) as session:
        for table in METADATA.sorted_tables:
            result = await session.execute(text(f'SELECT * FROM "{table.name}"'))
            rows = sorted(repr(tuple(r)) for r in result.all())
            out[table.name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return out


async def test_every_write_naming_a_place_checks_the_actors_reach_over_it(
    app: Any, world: World
) -> None:
    routes = routes_naming(app, PLACE_NAME, methods=WRITES, path=False) | set(TAKES_PLACE)
    assert len(routes) >= 8, "the walk found too few routes naming a place"
    missing = sorted(k for k in routes if k not in CASES and k not in EXEMPT)
    assert not missing, f"routes naming a place with no case and no reason: {missing}"
    stale = sorted((set(CASES) | set(EXEMPT) | set(TAKES_PLACE)) - routes)
    assert not stale, f"entries for routes that name no place: {stale}"
    failures = []
    for key in sorted(CASES):
        for run in CASES[key]:
            world.client.cookies.clear()
            send = await run(world)
            before = await _digest(world)
            resp = await send()
            after = await _digest(world)
            world.client.cookies.clear()
            problem = "problem+json" in resp.headers.get("content-type", "")
            page = "text/html" in resp.headers.get("content-type", "")
            if resp.status_code not in {403, 404, 422} or not (problem or page):
                failures.append(f"  {run.__name__}: {resp.status_code} {resp.text[:200]}")
            changed = sorted(t for t in before if before[t] != after[t])
            if changed:
                failures.append(f"  {run.__name__}: changed {changed}")
    assert not failures, "writes placing something outside the actor's reach:\n" + "\n".join(
        failures
    )
