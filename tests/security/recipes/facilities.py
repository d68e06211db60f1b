"""How to call the facilities' write routes successfully (see ``tests/security/routes.py``)."""

from __future__ import annotations

import uuid

from tests.facilities.helpers import body
from tests.security.routes import Call, recipe
from tests.security.world import PERSON, World

FACILITIES = "/api/v1/{tenant}/facilities"


@recipe("POST", FACILITIES)
async def create(w: World) -> Call:
    return Call(
        headers=w.admin_auth,
        json=body(
            code=f"SEC-{uuid.uuid4().hex[:8].upper()}", phone=PERSON.phone, email=PERSON.email
        ),
    )


@recipe("PATCH", FACILITIES + "/{facility_id}")
async def update(w: World) -> Call:
    facility = await w.facility()
    return Call(path={"facility_id": facility}, headers=w.admin_auth, json={"stations": 6})


@recipe("POST", FACILITIES + "/{facility_id}/deactivate")
async def deactivate(w: World) -> Call:
    return Call(path={"facility_id": await w.facility()}, headers=w.admin_auth)


@recipe("POST", FACILITIES + "/{facility_id}/reactivate")
async def reactivate(w: World) -> Call:
    facility = await w.facility()
    await w.ok("POST", f"/facilities/{facility}/deactivate", headers=w.admin_auth)
    return Call(path={"facility_id": facility}, headers=w.admin_auth)


@recipe("POST", FACILITIES + "/import")
async def import_csv(w: World) -> Call:
    code = f"SEC-{uuid.uuid4().hex[:8].upper()}"
    csv = (
        f"code,name,type,region_code,address\r\n{code},Imported Centre,public,NOR-01-01,1 Road\r\n"
    )
    return Call(headers={**w.admin_auth, "Content-Type": "text/csv"}, content=csv.encode())
