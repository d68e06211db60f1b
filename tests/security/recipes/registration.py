"""How to call registration's write routes successfully (see ``tests/security/routes.py``).

Citizens register and change their family; staff register walk-ins at their centre;
approvers decide corrections; staff review duplicates. People the walk needs beforehand
are written straight into the tables (``tests/registration/review/review_support.py``).
"""

from __future__ import annotations

import uuid

from tests.identity.helpers import last_code
from tests.registration.helpers import member, national_id
from tests.registration.review.review_support import add_flag, add_person
from tests.security.routes import Call, read, recipe
from tests.security.world import PERSON, World

BASE = "/api/v1/{tenant}"
PEOPLE = BASE + "/beneficiaries"


def _person(number: str | None = None) -> dict[str, object]:
    return member(
        given_name=PERSON.given_name,
        family_name=PERSON.family_name,
        birth_date=PERSON.birth_date,
        documents=[{"id_type": "national-id", "number": number or national_id()}],
    )


async def _registered(w: World) -> tuple[str, dict[str, str]]:
    """A member registered by a citizen: its id and the citizen's headers."""
    _, auth = await w.citizen()
    made = await w.ok("POST", "/beneficiaries", json=_person(), headers=auth)
    return str(made.json()["id"]), auth


async def _walk_in(w: World) -> dict[str, object]:
    centre = await w.facility()
    vaccinator = await w.auth(await w.staff("vaccinator", facility_id=centre))
    body = member(region_code="NOR-01-02")
    return dict(
        (await w.ok("POST", "/beneficiaries/walk-ins", json=body, headers=vaccinator)).json()
    )


_CORRECTION = {"field": "family_name", "value": PERSON.family_name, "reason": "maiden name"}


async def _own_member(w: World) -> tuple[uuid.UUID, dict[str, str]]:
    """A member of a citizen's family: its id and the citizen's headers."""
    citizen, auth = await w.citizen()
    return await add_person(w.db, w.tenant, account_id=citizen), auth


async def _correction(w: World) -> tuple[str, dict[str, str]]:
    """A pending correction a citizen asked for: its id and the citizen's headers."""
    person, auth = await _own_member(w)
    path = f"/beneficiaries/{person}/corrections"
    asked = await w.ok("POST", path, json=_CORRECTION, headers=auth)
    return str(asked.json()["id"]), auth


async def _flag(w: World) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """Two people flagged as possible duplicates: (flag, older, newer)."""
    older = await add_person(w.db, w.tenant)
    newer = await add_person(w.db, w.tenant)
    return await add_flag(w.db, w.tenant, newer, older, region="CEN-01-01"), older, newer


@recipe("POST", PEOPLE)
async def register(w: World) -> Call:
    _, auth = await w.citizen()
    return Call(headers=auth, json=_person(PERSON.id_number))


@recipe("POST", PEOPLE + "/walk-ins")
async def register_walk_in(w: World) -> Call:
    centre = await w.facility()
    vaccinator = await w.auth(await w.staff("vaccinator", facility_id=centre))
    return Call(headers=vaccinator, json=member(region_code="NOR-01-02"))


@recipe("POST", PEOPLE + "/claims")
async def claim(w: World) -> Call:
    walk_in = await _walk_in(w)
    [document] = walk_in["documents"]  # type: ignore[misc]
    _, auth = await w.citizen()
    body = {"id_type": "national-id", "number": document["number"], "code": walk_in["claim_code"]}
    return Call(headers=auth, json=body)


@recipe("POST", PEOPLE + "/claims/codes")
async def claim_code(w: World) -> Call:
    _, auth = await w.citizen()
    return Call(headers=auth, json={"id_type": "national-id", "number": PERSON.id_number})


@recipe("PATCH", PEOPLE + "/{beneficiary_id}")
async def update(w: World) -> Call:
    # A new phone, proved by a code sent to it (POST .../contact-codes is exempt: it only
    # sends that code; this change is what the record keeps, audited).
    person, auth = await _registered(w)
    asked = await w.ok(
        "POST", f"/beneficiaries/{person}/contact-codes", json={"phone": PERSON.phone}, headers=auth
    )
    proof = {
        "transaction_id": asked.json()["transaction_id"],
        "code": await last_code(w.db, w.tenant.id),
    }
    body = {"region_code": "SOU-01-02", "phone": PERSON.phone, "contact_code": proof}
    return Call(path={"beneficiary_id": person}, headers=auth, json=body)


@recipe("DELETE", PEOPLE + "/{beneficiary_id}")
async def erase(w: World) -> Call:
    person, auth = await _registered(w)
    return Call(path={"beneficiary_id": person}, headers=auth)


@recipe("POST", PEOPLE + "/{beneficiary_id}/corrections")
async def ask_correction(w: World) -> Call:
    person, auth = await _own_member(w)
    return Call(path={"beneficiary_id": person}, headers=auth, json=_CORRECTION)


@recipe("POST", BASE + "/corrections/{correction_id}/withdraw")
async def withdraw_correction(w: World) -> Call:
    correction, auth = await _correction(w)
    return Call(path={"correction_id": correction}, headers=auth)


@recipe("POST", BASE + "/corrections/{correction_id}/approve")
async def approve_correction(w: World) -> Call:
    correction, _ = await _correction(w)
    return Call(path={"correction_id": correction}, headers=w.admin_auth, json={"note": "seen"})


@recipe("POST", BASE + "/corrections/{correction_id}/reject")
async def reject_correction(w: World) -> Call:
    correction, _ = await _correction(w)
    return Call(path={"correction_id": correction}, headers=w.admin_auth)


@recipe("POST", BASE + "/duplicates/{flag_id}/dismiss")
async def dismiss_duplicate(w: World) -> Call:
    flag, _, _ = await _flag(w)
    return Call(path={"flag_id": flag}, headers=w.admin_auth)


@recipe("POST", BASE + "/duplicates/{flag_id}/merge")
async def merge_duplicate(w: World) -> Call:
    flag, older, _ = await _flag(w)
    return Call(path={"flag_id": flag}, headers=w.admin_auth, json={"survivor_id": str(older)})


@recipe("POST", PEOPLE + "/{beneficiary_id}/merge")
async def merge_record(w: World) -> Call:
    _, older, newer = await _flag(w)
    body = {"survivor_id": str(older)}
    return Call(path={"beneficiary_id": newer}, headers=w.admin_auth, json=body)


@recipe("POST", BASE + "/merges/{merge_id}/undo")
async def undo_merge(w: World) -> Call:
    flag, older, _ = await _flag(w)
    merged = await w.ok(
        "POST", f"/duplicates/{flag}/merge", json={"survivor_id": str(older)}, headers=w.admin_auth
    )
    return Call(path={"merge_id": merged.json()["id"]}, headers=w.admin_auth)


@read("GET", PEOPLE + "/search")
async def search_by_id_number(w: World) -> Call:
    params = {"id_type": "national-id", "number": PERSON.id_number_printed}
    return Call(headers=w.admin_auth, params=params)


@read("GET", PEOPLE)
async def list_family(w: World) -> Call:
    _, auth = await w.citizen()
    await w.ok("POST", "/beneficiaries", json=_person(), headers=auth)
    return Call(headers=auth)


@recipe("POST", PEOPLE + "/imports")
async def import_people(w: World) -> Call:
    header = "given_name,family_name,sex,birth_date,id_type,id_number,phone,email,region_code"
    row = (
        f"{PERSON.given_name},{PERSON.family_name},female,{PERSON.birth_date},national-id,"
        f"{PERSON.id_number_printed},{PERSON.phone},{PERSON.email},NOR-01-01"
    )
    content = f"{header}\r\n{row}\r\n".encode()
    return Call(headers={**w.admin_auth, "Content-Type": "text/csv"}, content=content)
