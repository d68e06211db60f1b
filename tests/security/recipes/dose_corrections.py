"""How to call the correction routes of dose records (see ``tests/security/routes.py``).

A centre's vaccinator records a dose (``doses._recorded``) and corrects or voids it in
their window, putting the walk's known name in the notes and the reason; the two-person
void is asked with a certificate port that says every dose has one (installed through
the wiring hook for the ask only) and approved by the national administrator.
"""

from __future__ import annotations

import dataclasses
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tests.security.recipes.doses import _recorded
from tests.security.routes import Call, read, recipe
from tests.security.world import PERSON, World
from tests.support.parts import PARTS
from vaxport import wiring

ITEM = "/api/v1/{tenant}/doses/{dose_id}"
NAMED = f"{PERSON.given_name} {PERSON.family_name}, {PERSON.phone}"


async def _every_dose_certified(
    _s: AsyncSession, _tenant: uuid.UUID, _person: uuid.UUID, _dose: uuid.UUID
) -> bool:
    return True


@recipe("PATCH", ITEM)
async def correct_dose(w: World) -> Call:
    seen, dose_id = await _recorded(w)
    return Call(
        path={"dose_id": dose_id},
        headers=seen.vaccinator,
        json={"version": 1, "site": "right-arm", "notes": NAMED, "reason": NAMED},
    )


@recipe("POST", ITEM + "/void")
async def void_dose(w: World) -> Call:
    seen, dose_id = await _recorded(w)
    return Call(
        path={"dose_id": dose_id}, headers=seen.vaccinator, json={"version": 1, "reason": NAMED}
    )


@recipe("POST", ITEM + "/void-requests/{request_id}/approve")
async def approve_void(w: World) -> Call:
    seen, dose_id = await _recorded(w)
    wiring.install(dataclasses.replace(PARTS, certificate_exists=_every_dose_certified))
    try:
        asked = await w.client.post(
            f"{w.api}/doses/{dose_id}/void",
            json={"version": 1, "reason": NAMED},
            headers=seen.vaccinator,
        )
    finally:
        wiring.install(PARTS)
    assert asked.status_code == 202, asked.text
    return Call(
        path={"dose_id": dose_id, "request_id": asked.json()["request"]["id"]},
        headers=w.admin_auth,
    )


@read("GET", ITEM + "/revisions")
async def dose_revisions(w: World) -> Call:
    seen, dose_id = await _recorded(w)
    r = await w.client.patch(
        f"{w.api}/doses/{dose_id}",
        json={"version": 1, "notes": NAMED},
        headers=seen.vaccinator,
    )
    assert r.status_code == 200, r.text
    return Call(path={"dose_id": dose_id}, headers=seen.vaccinator)
