"""How to call the offline sync routes (see ``tests/security/routes.py``).

A centre's vaccinator uploads a walk-in (under the walk's known name) and a dose for it;
the review queue gets an entry by uploading a dose a person was given online meanwhile.
"""

from __future__ import annotations

import uuid

from tests.immunization.support import add_lot
from tests.immunization.sync_support import ago
from tests.registration.review.review_support import add_person
from tests.security.routes import Call, read, recipe
from tests.security.world import PERSON, World

BASE = "/api/v1/{tenant}/sync"
REGION = "NOR-01-01"  # the region of the world's facilities


async def _vaccinator(w: World) -> tuple[dict[str, str], str, uuid.UUID]:
    """A new centre's vaccinator, a lot number and the centre."""
    centre = await w.facility()
    number = f"SYN{uuid.uuid4().hex[:6].upper()}"
    await add_lot(w.db, w.tenant, "covid-mrna", number)
    return await w.auth(await w.staff("vaccinator", facility_id=centre)), number, centre


def _dose(person: dict[str, str], lot: str) -> dict[str, object]:
    return {
        "kind": "dose",
        "client_id": str(uuid.uuid4()),
        "device_time": ago(20),
        "product_id": "covid-mrna",
        "lot_number": lot,
        "administered_at": ago(20),
        "notes": f"{PERSON.given_name} {PERSON.family_name}, {PERSON.phone}",
    } | person


@recipe("POST", BASE + "/batches")
async def sync_batch(w: World) -> Call:
    headers, lot, _ = await _vaccinator(w)
    walk_in = str(uuid.uuid4())
    return Call(
        headers=headers,
        json={
            "device_id": "tablet-sec-1",
            "records": [
                {
                    "kind": "walk_in",
                    "client_id": walk_in,
                    "device_time": ago(30),
                    "person": {
                        "given_name": PERSON.given_name,
                        "family_name": PERSON.family_name,
                        "sex": "female",
                        "birth_date": "1985-12-10",
                        "phone": PERSON.phone,
                        "region_code": REGION,
                    },
                },
                _dose({"person_client_id": walk_in}, lot),
            ],
        },
    )


async def _conflict(w: World) -> tuple[dict[str, str], str]:
    """An entry of the review queue, and the vaccinator who may resolve it."""
    headers, lot, centre = await _vaccinator(w)
    person = await add_person(
        w.db, w.tenant, given_name=PERSON.given_name, family_name=PERSON.family_name,
        region_code=REGION, facility_id=centre,
    )  # fmt: skip
    online = await w.client.post(
        f"{w.api}/doses",
        json={"beneficiary_id": str(person), "product_id": "covid-mrna", "lot_number": lot},
        headers=headers,
    )
    assert online.status_code == 201, online.text
    r = await w.client.post(
        f"{w.api}/sync/batches",
        json={
            "device_id": "tablet-sec-2",
            "records": [_dose({"beneficiary_id": str(person), "dose_number": 1}, lot)],
        },
        headers=headers,
    )
    assert r.status_code == 200, r.text
    [result] = r.json()["results"]
    assert result["outcome"] == "conflict", result
    return headers, str(result["conflict_id"])


@recipe("POST", BASE + "/conflicts/{conflict_id}/resolve")
async def resolve_conflict(w: World) -> Call:
    headers, conflict_id = await _conflict(w)
    return Call(
        path={"conflict_id": conflict_id},
        headers=headers,
        json={"action": "keep-existing", "reason": f"same dose, {PERSON.given_name}"},
    )


@read("GET", BASE + "/conflicts")
async def list_conflicts(w: World) -> Call:
    headers, _ = await _conflict(w)
    return Call(headers=headers)
