"""How to call the day at a centre's routes (see ``tests/security/routes.py``).

A centre's vaccinator marks a person seen and closes a session; the day's list and a
booking code looked up are walked as reads (they answer with a person's name). Sessions
are seeded straight into the tables (``tests/scheduling/seed.py``) and people booked with
``appointments.book_in``, under the walk's known name.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tests.registration.review.review_support import add_person
from tests.scheduling.seed import open_session
from tests.security.routes import Call, read, recipe
from tests.security.world import PERSON, World
from vaxport.scheduling.appointments import Seat, book_in
from vaxport.scheduling.service import local_today

BASE = "/api/v1/{tenant}"
REGION = "NOR-01-01"  # the region of the world's facilities


@dataclass(frozen=True)
class _Booked:
    centre: uuid.UUID
    session_id: uuid.UUID
    appointment_id: uuid.UUID
    code: str
    vaccinator: dict[str, str]


async def _booked(w: World) -> _Booked:
    """A person booked today at a new centre, and that centre's vaccinator's headers."""
    centre = await w.facility()
    seeded = await open_session(
        w.db, w.tenant.id, centre, region_code=REGION, day=local_today(w.tenant)
    )
    person = await add_person(
        w.db,
        w.tenant,
        given_name=PERSON.given_name,
        family_name=PERSON.family_name,
        region_code=REGION,
    )
    async with w.db.transaction(tenant_id=w.tenant.id) as uow:
        row = await book_in(
            uow, w.tenant.id, seeded.slot_ids[0], Seat(person, None, "covid-19", 1, None)
        )
        assert row is not None
    vaccinator = await w.auth(await w.staff("vaccinator", facility_id=centre))
    return _Booked(centre, seeded.session_id, row.id, row.booking_code, vaccinator)


@recipe("POST", BASE + "/appointments/{appointment_id}/complete")
async def complete(w: World) -> Call:
    b = await _booked(w)
    return Call(path={"appointment_id": b.appointment_id}, headers=b.vaccinator)


@recipe("POST", BASE + "/sessions/{session_id}/attendance/close")
async def close(w: World) -> Call:
    b = await _booked(w)
    return Call(path={"session_id": b.session_id}, headers=b.vaccinator)


@read("GET", BASE + "/facilities/{facility_id}/appointments")
async def day_list(w: World) -> Call:
    b = await _booked(w)
    return Call(path={"facility_id": b.centre}, headers=b.vaccinator)


@read("GET", BASE + "/appointments/by-code/{code}")
async def by_code(w: World) -> Call:
    b = await _booked(w)
    return Call(path={"code": b.code}, headers=b.vaccinator)
