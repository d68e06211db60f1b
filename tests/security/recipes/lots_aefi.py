"""How to call the lot and adverse event routes successfully (``tests/security/routes.py``)."""

from __future__ import annotations

import uuid
from typing import Any

from tests.immunization.helpers import SERIOUS, aefi_body, lot_body, make_dose
from tests.registration.helpers import member
from tests.security.routes import Call, read, recipe
from tests.security.world import PERSON, World

LOTS = "/api/v1/{tenant}/lots"
AEFI = "/api/v1/{tenant}/aefi"
REGION = "NOR-01-01"


async def _lot(w: World) -> dict[str, Any]:
    made: dict[str, Any] = (
        await w.ok("POST", "/lots", json=lot_body(), headers=w.admin_auth)
    ).json()
    return made


async def _dose(w: World, person: uuid.UUID | None = None) -> tuple[uuid.UUID, uuid.UUID]:
    """A dose from a new lot at a new centre: (dose id, centre id)."""
    centre = await w.facility()
    lot = await _lot(w)
    dose = await make_dose(
        w.db,
        w.tenant,
        beneficiary_id=person or uuid.uuid4(),
        lot_id=uuid.UUID(lot["id"]),
        region_code=REGION,
        facility_id=centre,
    )
    return dose, centre


async def _vaccinator_at(w: World, centre: uuid.UUID) -> dict[str, str]:
    return await w.auth(await w.staff("vaccinator", facility_id=centre))


@recipe("POST", LOTS)
async def create_lot(w: World) -> Call:
    return Call(headers=w.admin_auth, json=lot_body())


@recipe("PATCH", LOTS + "/{lot_id}")
async def hold_lot(w: World) -> Call:
    lot = await _lot(w)
    body = {"version": 1, "on_hold": True, "reason": "Cold chain breach"}
    return Call(path={"lot_id": lot["id"]}, headers=w.admin_auth, json=body)


@recipe("POST", LOTS + "/import")
async def import_lots(w: World) -> Call:
    csv = (
        "product_id,lot_number,expires_on\ncovid-mrna,IMP" + uuid.uuid4().hex[:6] + ",2030-01-31\n"
    )
    return Call(headers={**w.admin_auth, "Content-Type": "text/csv"}, content=csv.encode())


@read("GET", LOTS + "/{lot_id}/recipients")
async def lot_recipients(w: World) -> Call:
    lot = await _lot(w)
    return Call(path={"lot_id": lot["id"]}, headers=w.admin_auth)


@recipe("POST", AEFI)
async def report_aefi(w: World) -> Call:
    dose, centre = await _dose(w)
    return Call(headers=await _vaccinator_at(w, centre), json=aefi_body(dose, **SERIOUS))


@recipe("POST", AEFI + "/{report_id}/triage")
async def triage_aefi(w: World) -> Call:
    dose, centre = await _dose(w)
    auth = await _vaccinator_at(w, centre)
    made = await w.ok("POST", "/aefi", json=aefi_body(dose), headers=auth)
    body = {"version": 1, **SERIOUS, "note": "Admitted overnight"}
    return Call(path={"report_id": made.json()["id"]}, headers=auth, json=body)


@read("GET", AEFI + "/{report_id}")
async def read_aefi(w: World) -> Call:
    dose, centre = await _dose(w)
    auth = await _vaccinator_at(w, centre)
    made = await w.ok("POST", "/aefi", json=aefi_body(dose), headers=auth)
    return Call(path={"report_id": made.json()["id"]}, headers=auth)


async def _member(w: World) -> tuple[str, dict[str, str]]:
    _, auth = await w.citizen()
    body = member(given_name=PERSON.given_name, family_name=PERSON.family_name, region_code=REGION)
    made = await w.ok("POST", "/beneficiaries", json=body, headers=auth)
    return str(made.json()["id"]), auth


@recipe("POST", "/api/v1/{tenant}/beneficiaries/{beneficiary_id}/aefi")
async def report_member_aefi(w: World) -> Call:
    person, auth = await _member(w)
    dose, _ = await _dose(w, uuid.UUID(person))
    return Call(path={"beneficiary_id": person}, headers=auth, json=aefi_body(dose))


@read("GET", "/api/v1/{tenant}/beneficiaries/{beneficiary_id}/aefi")
async def member_aefi(w: World) -> Call:
    person, auth = await _member(w)
    dose, _ = await _dose(w, uuid.UUID(person))
    await w.ok("POST", f"/beneficiaries/{person}/aefi", json=aefi_body(dose), headers=auth)
    return Call(path={"beneficiary_id": person}, headers=auth)
