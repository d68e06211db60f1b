"""No route serves or changes another's object for an outsider (a peer of its owner).

schemathesis' peers are two facility managers; this walk takes every route of the API
and FHIR reads that names an object in its path (a parameter other than ``{tenant}``)
and has a way to be called successfully: its audit-walk recipe or its registered read
(``tests/security/recipes/``). The recipe prepares an object as its owner would (a
citizen's member, a centre's appointment, a region's dose...) and the walk sends the
very same request as each outsider of :func:`_outsiders`: a stranger citizen, staff of
a centre and a region elsewhere, and the administrator of another tenant (on their own
tenant's path). Each answer must be 401, 403 or 404 as problem+json (FHIR: an
OperationOutcome), must not differ in status from the answer to the same request about
an object that does not exist (a refusal that tells existence is an oracle), and no
table may change. A route that names an object and has neither recipe nor read fails
:func:`test_every_route_naming_an_object_is_walked_by_outsiders` unless it is in
:data:`NOT_WALKED` with the reason; an outsider an object is not hidden from by design is
in :data:`SHARED` with the reason.
"""

from __future__ import annotations

import re
import secrets
import string
import uuid
from typing import Any

import httpx
from fastapi.routing import APIRoute

from tests.identity.helpers import api_login, bearer, make_staff
from tests.security.routes import READS, RECIPES, Call, Recipe, RouteKey, load_recipes
from tests.security.test_target_reach_walk import _digest
from tests.security.world import PERSON, World
from tests.support.tenants import load_tenant
from vaxport.core.http.dependencies import iter_routes

PREFIXES = ("/api/v1/{tenant}/", "/fhir/{tenant}/")
PARAM = re.compile(r"{(\w+)(?::\w+)?}")

# Routes naming an object that this walk does not call, each with its reason.
NOT_WALKED: dict[RouteKey, str] = {
    ("GET", "/api/v1/{tenant}/messages/{message_id}"): (
        "a message's delivery status (``messages:read``: admins and support): status, "
        "channel, event and times, never its destination or body; no recipe makes one "
        "through the API yet"
    ),
    ("GET", "/api/v1/{tenant}/accounts/{account_id}/recoveries"): (
        "support's list of a citizen account's recoveries (``accounts:recoveries``: "
        "national admins, support, auditors; no citizen, centre or region staff): who "
        "reads it is tested in tests/identity/test_recovery_guard.py"
    ),
    ("POST", "/api/v1/{tenant}/notifications/callbacks/{channel_name}"): (
        "names a channel, not anyone's object; a provider's signature is the check "
        "(tests/notifications)"
    ),
    ("GET", "/api/v1/{tenant}/$bulk-publish/slots/{region}.ndjson"): (
        "the public SMART Scheduling Links feed: open slots are published to everyone"
    ),
}

# (route, outsider) pairs that may act on the recipe's object by design, with the reason.
_PUBLIC_CENTRE = (
    "a centre's registry entry is public (the facility finder shows it to anyone: "
    "docs/facilities.md); another tenant's is 404"
)
_LOT = (
    "lots are tenant-wide and everyone who records doses or runs a centre reads them "
    "(docs/immunization.md, 'Lots')"
)
SHARED: dict[tuple[RouteKey, str], str] = {
    (("GET", "/api/v1/{tenant}/notifications/preferences/{subject_id}"), "other_tenant"): (
        "answers the caller's own tenant's preferences for that id (the defaults for an id "
        "it never saw, as for one nobody holds), never the values another tenant stored"
    ),
    **{
        (("GET", "/api/v1/{tenant}/facilities/{facility_id}"), who): _PUBLIC_CENTRE
        for who in ("citizen", "vaccinator", "manager", "region_admin")
    },
    **{
        (("GET", "/api/v1/{tenant}/lots/{lot_id}"), who): _LOT
        for who in ("vaccinator", "manager", "region_admin")
    },
    (("PATCH", "/api/v1/{tenant}/lots/{lot_id}"), "region_admin"): (
        "lots are tenant-wide (a lot ships across regions) and regional admins change them "
        "(docs/immunization.md, 'Lots')"
    ),
    (("GET", "/api/v1/{tenant}/lots/{lot_id}/recipients"), "region_admin"): (
        "a regional admin reads a lot's recipients in their own region only (empty here): "
        "docs/immunization.md, 'Lots'"
    ),
}

REFUSALS = {401, 403, 404}


async def _contact_code(w: World) -> Call:
    """A citizen asks for a code proving a new phone of their own member (a write kept out
    of the audit walk, ``NOT_AUDITED``, so it has no recipe there)."""
    from tests.security.recipes.registration import _own_member

    person, auth = await _own_member(w)
    return Call(path={"beneficiary_id": person}, headers=auth, json={"phone": PERSON.phone})


# Calls this walk alone makes (routes no other walk calls successfully).
OWN_CALLS: dict[RouteKey, Recipe] = {
    ("POST", "/api/v1/{tenant}/beneficiaries/{beneficiary_id}/contact-codes"): _contact_code,
}
# Where the outsiders work: recipes place their objects in NOR and CEN, never here.
ELSEWHERE = "SOU-01-01"


async def _outsiders(w: World) -> dict[str, tuple[str, dict[str, str]]]:
    """Each outsider's tenant code and headers: nobody of them owns a recipe's object."""
    centre = await w.facility(region_code=ELSEWHERE)
    other = await load_tenant(w.db)
    admin = await make_staff(w.db, w.settings, other, role="national_admin")
    _, citizen = await w.citizen()
    here = w.tenant.code
    return {
        "citizen": (here, citizen),
        "vaccinator": (here, await w.auth(await w.staff("vaccinator", facility_id=centre))),
        "manager": (here, await w.auth(await w.staff("facility_manager", facility_id=centre))),
        "region_admin": (
            here,
            await w.auth(await w.staff("region_admin", region_code=ELSEWHERE[:3])),
        ),
        "other_tenant": (
            other.code,
            bearer(str((await api_login(w.client, admin))["access_token"])),
        ),
    }


def object_routes(app: Any) -> set[RouteKey]:
    """``(method, path)`` of every API and FHIR route naming an object in its path."""
    found = set()
    for path, route, _deps in iter_routes(app.routes):
        if not isinstance(route, APIRoute) or not path.startswith(PREFIXES):
            continue
        if any(name != "tenant" for name in PARAM.findall(path)):
            found |= {(m, path) for m in route.methods or () if m != "HEAD"}
    return found


def _fresh(value: Any) -> str:
    """A value of the same shape (a UUID, hex, a code of letters and digits) naming nothing."""
    text = str(value)
    try:
        uuid.UUID(text)
    except ValueError:
        letters = "abcdef" if re.fullmatch(r"[0-9a-f]+", text) else string.ascii_letters
        return "".join(
            secrets.choice(string.digits)
            if c.isdigit()
            else _cased(secrets.choice(letters), c)
            if c.isalpha()
            else c
            for c in text
        )
    return str(uuid.uuid4())


def _cased(new: str, like: str) -> str:
    return new.upper() if like.isupper() else new.lower()


async def _send(
    w: World,
    method: str,
    path: str,
    call: Call,
    tenant: str,
    auth: dict[str, str],
    ids: dict[str, Any],
) -> httpx.Response:
    headers = {k: v for k, v in call.headers.items() if k.lower() != "authorization"} | auth
    return await w.client.request(
        method,
        path.format(tenant=tenant, **ids),
        headers=headers,
        json=call.json,
        content=call.content,
        params=call.params,
    )


def _refused_plainly(resp: httpx.Response) -> bool:
    media = resp.headers.get("content-type", "")
    if resp.status_code not in REFUSALS:
        return False
    return "problem+json" in media or "fhir+json" in media


async def test_every_route_naming_an_object_is_walked_by_outsiders(app: Any) -> None:
    load_recipes()
    routes = object_routes(app)
    walked = (set(RECIPES) | set(READS) | set(OWN_CALLS)) & routes
    missing = sorted(routes - walked - set(NOT_WALKED))
    assert not missing, "routes naming an object with no recipe, no read, no reason:\n" + "\n".join(
        f"  {m} {p}" for m, p in missing
    )
    stale = sorted((set(NOT_WALKED) & walked) | (set(NOT_WALKED) - routes))
    assert not stale, f"NOT_WALKED entries for routes walked or gone: {stale}"


async def test_no_outsider_reads_or_changes_another_ones_object(app: Any, world: World) -> None:
    load_recipes()
    routes = object_routes(app)
    calls = {**READS, **RECIPES, **OWN_CALLS}
    outsiders = await _outsiders(world)
    failures = []
    for method, path in sorted(k for k in calls if k in routes):
        call = await calls[method, path](world)
        fresh = {k: _fresh(v) for k, v in call.path.items()}
        before = await _digest(world)
        for name, (tenant, auth) in outsiders.items():
            if ((method, path), name) in SHARED:
                continue
            none = await _send(world, method, path, call, tenant, auth, fresh)
            resp = await _send(world, method, path, call, tenant, auth, call.path)
            after = await _digest(world)
            changed = sorted(t for t, d in after.items() if before[t] != d)
            before = after  # nothing runs between one outsider's requests and the next's
            where = f"  {method} {path} as {name}:"
            if not _refused_plainly(resp):
                failures.append(f"{where} {resp.status_code} {resp.text[:160]}")
            elif resp.status_code != none.status_code:
                failures.append(
                    f"{where} {resp.status_code} for the object, {none.status_code} for none"
                )
            if changed:
                failures.append(f"{where} changed {changed}")
    assert not failures, "outsiders served or told about another's object:\n" + "\n".join(failures)
