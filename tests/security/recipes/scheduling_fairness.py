"""How to call the release queue's and the waitlist's write routes successfully.

A citizen acts for a member of their family; sessions are written straight into the
tables (``tests/scheduling/seed.py``), released a minute ago where a queue is needed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from tests.registration.review.review_support import add_person
from tests.scheduling.conftest import REGION
from tests.scheduling.fairness.support import DAY, released_session
from tests.scheduling.seed import open_session
from tests.security.routes import Call, recipe
from tests.security.world import World
from vaxport.scheduling import holds

BASE = "/api/v1/{tenant}"


async def _member(w: World) -> tuple[uuid.UUID, dict[str, str]]:
    """A member of a citizen's family: its id and the citizen's headers."""
    citizen, auth = await w.citizen()
    return await add_person(w.db, w.tenant, account_id=citizen, region_code=REGION), auth


def _place(member: uuid.UUID) -> dict[str, Any]:
    return {
        "beneficiary_id": str(member),
        "region_code": "NOR",
        "from": dt.date.today().isoformat(),
        "to": (DAY + dt.timedelta(days=1)).isoformat(),
        "product_id": "covid-mrna",
    }


@recipe("POST", BASE + "/sessions/{session_id}/tickets")
async def request_ticket(w: World) -> Call:
    member, auth = await _member(w)
    seeded = await released_session(w.db, w.tenant, await w.facility())
    return Call(
        path={"session_id": seeded.session_id},
        headers=auth,
        json={"beneficiary_id": str(member)},
    )


@recipe("POST", BASE + "/waitlist")
async def join_waitlist(w: World) -> Call:
    member, auth = await _member(w)
    return Call(headers=auth, json=_place(member))


@recipe("DELETE", BASE + "/waitlist/{entry_id}")
async def leave_waitlist(w: World) -> Call:
    member, auth = await _member(w)
    made = await w.ok("POST", "/waitlist", json=_place(member), headers=auth)
    return Call(path={"entry_id": made.json()["id"]}, headers=auth)


@recipe("POST", BASE + "/appointments/{appointment_id}/accept")
async def accept_offer(w: World) -> Call:
    member, auth = await _member(w)
    await w.ok("POST", "/waitlist", json=_place(member), headers=auth)
    # Seats for every place other recipes left waiting before this one, too.
    seeded = await open_session(
        w.db, w.tenant.id, await w.facility(), region_code=REGION, day=DAY, seats=10
    )
    await holds.offer_seats(db=w.db, cache=w.cache, tenant=w.tenant, slot_ids=seeded.slot_ids)
    listed = await w.ok("GET", "/waitlist", headers=auth)
    return Call(path={"appointment_id": listed.json()["items"][0]["appointment_id"]}, headers=auth)
