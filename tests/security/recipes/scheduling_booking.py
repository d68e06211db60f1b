"""How to call booking's write routes successfully (see ``tests/security/routes.py``).

Staff book, move and cancel for people in their reach (audited: the walk looks for the
entry). People and open slots are written straight into the tables.
"""

from __future__ import annotations

import datetime as dt
import uuid

from tests.registration.review.review_support import add_person
from tests.scheduling.seed import open_session
from tests.security.routes import Call, read, recipe
from tests.security.world import World

APPOINTMENTS = "/api/v1/{tenant}/appointments"
DAY = dt.date.today() + dt.timedelta(days=4)


async def _slots(w: World, count: int = 1) -> tuple[uuid.UUID, ...]:
    centre = await w.facility()
    seeded = await open_session(
        w.db, w.tenant.id, centre, region_code="NOR-01-01", day=DAY, slots=count
    )
    return seeded.slot_ids


async def _booked(w: World, slot_count: int = 1) -> tuple[str, tuple[uuid.UUID, ...]]:
    """A person booked by the administrator: the appointment id and the slots."""
    slots = await _slots(w, slot_count)
    person = await add_person(w.db, w.tenant)
    made = await w.ok(
        "POST",
        "/appointments",
        json={"beneficiary_id": str(person), "slot_id": str(slots[0])},
        headers=w.admin_auth,
    )
    return str(made.json()["id"]), slots


@recipe("POST", APPOINTMENTS)
async def book(w: World) -> Call:
    [slot_id] = await _slots(w)
    person = await add_person(w.db, w.tenant)
    body = {"beneficiary_id": str(person), "slot_id": str(slot_id)}
    return Call(headers=w.admin_auth, json=body)


@recipe("POST", APPOINTMENTS + "/{appointment_id}/reschedule")
async def reschedule(w: World) -> Call:
    appointment, slots = await _booked(w, 2)
    body = {"slot_id": str(slots[1])}
    return Call(path={"appointment_id": appointment}, headers=w.admin_auth, json=body)


@recipe("DELETE", APPOINTMENTS + "/{appointment_id}")
async def cancel(w: World) -> Call:
    appointment, _ = await _booked(w)
    return Call(path={"appointment_id": appointment}, headers=w.admin_auth)


@read("GET", APPOINTMENTS)
async def list_appointments(w: World) -> Call:
    appointment, _ = await _booked(w)
    got = await w.ok("GET", f"/appointments/{appointment}", headers=w.admin_auth)
    return Call(headers=w.admin_auth, params={"beneficiary_id": got.json()["beneficiary_id"]})
