"""How to call the dose routes (see ``tests/security/routes.py``).

A centre's vaccinator records a dose for a person booked there today (under the walk's
known name) from a lot written straight into the table; the person's history and one
dose are walked as reads (they answer with a person's record).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tests.immunization.support import add_lot
from tests.registration.review.review_support import add_person
from tests.scheduling.seed import open_session
from tests.security.routes import Call, read, recipe
from tests.security.world import PERSON, World
from vaxport.scheduling.appointments import Seat, book_in
from vaxport.scheduling.service import local_today

BASE = "/api/v1/{tenant}"
REGION = "NOR-01-01"  # the region of the world's facilities


@dataclass(frozen=True)
class _Seen:
    person: uuid.UUID
    code: str
    vaccinator: dict[str, str]


async def _booked(w: World) -> _Seen:
    """A person booked today at a new centre, a lot, and that centre's vaccinator."""
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
    await add_lot(w.db, w.tenant, "covid-mrna", f"SEC{uuid.uuid4().hex[:6].upper()}")
    vaccinator = await w.auth(await w.staff("vaccinator", facility_id=centre))
    return _Seen(person, row.booking_code, vaccinator)


async def _lot_number(w: World) -> str:
    from sqlalchemy import select

    from vaxport.immunization.models import Lot

    async with w.db.read(tenant_id=w.tenant.id) as s:
        number = await s.scalar(select(Lot.lot_number).order_by(Lot.created_at.desc()).limit(1))
    assert number is not None
    return number


async def _recorded(w: World) -> tuple[_Seen, str]:
    seen = await _booked(w)
    r = await w.client.post(
        f"{w.api}/doses",
        json={
            "beneficiary_id": str(seen.person),
            "product_id": "covid-mrna",
            "lot_number": await _lot_number(w),
            "booking_code": seen.code,
            "notes": f"{PERSON.given_name} {PERSON.family_name}, {PERSON.phone}",
        },
        headers=seen.vaccinator,
    )
    assert r.status_code == 201, r.text
    return seen, str(r.json()["id"])


@recipe("POST", BASE + "/doses")
async def record_dose(w: World) -> Call:
    seen = await _booked(w)
    return Call(
        headers=seen.vaccinator,
        json={
            "beneficiary_id": str(seen.person),
            "product_id": "covid-mrna",
            "lot_number": await _lot_number(w),
            "booking_code": seen.code,
            "site": "left-arm",
            "route": "IM",
            "notes": f"{PERSON.given_name} {PERSON.family_name}, {PERSON.phone}",
        },
    )


@read("GET", BASE + "/beneficiaries/{beneficiary_id}/doses")
async def dose_history(w: World) -> Call:
    seen, _ = await _recorded(w)
    return Call(path={"beneficiary_id": seen.person}, headers=seen.vaccinator)


@read("GET", BASE + "/doses/{dose_id}")
async def one_dose(w: World) -> Call:
    seen, dose_id = await _recorded(w)
    return Call(path={"dose_id": dose_id}, headers=seen.vaccinator)
