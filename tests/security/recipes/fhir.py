"""The FHIR reads the clean-logs walk makes (see ``READS`` in ``tests/security/routes.py``).

A person with the known names and phone and a dose, read by a national administrator
through each FHIR route: the answers carry the values, the logs must not.
"""

from __future__ import annotations

import uuid

from tests.immunization.fhir_support import add_dose
from tests.registration.helpers import member, national_id
from tests.security.routes import Call, read
from tests.security.world import PERSON, World

BASE = "/fhir/{tenant}"


async def _known(w: World) -> uuid.UUID:
    """A person with the known names and phone (an ID number of their own), with a dose."""
    body = member(
        given_name=PERSON.given_name,
        family_name=PERSON.family_name,
        birth_date=PERSON.birth_date,
        documents=[{"id_type": "national-id", "number": national_id()}],
        phone=PERSON.phone,
    )
    made = await w.ok("POST", "/beneficiaries", json=body, headers=w.admin_auth)
    person = uuid.UUID(made.json()["id"])
    await add_dose(w.db, w.tenant, person)
    return person


@read("GET", BASE + "/metadata")
async def capabilities(w: World) -> Call:
    return Call()


@read("GET", BASE + "/Patient/{patient_id}")
async def patient(w: World) -> Call:
    return Call(path={"patient_id": await _known(w)}, headers=w.admin_auth)


@read("GET", BASE + "/Patient/{patient_id}/$everything")
async def everything(w: World) -> Call:
    return Call(path={"patient_id": await _known(w)}, headers=w.admin_auth)


@read("GET", BASE + "/Immunization")
async def immunizations(w: World) -> Call:
    return Call(params={"patient": str(await _known(w))}, headers=w.admin_auth)


@read("GET", BASE + "/Immunization/{immunization_id}")
async def immunization(w: World) -> Call:
    person = await _known(w)
    searched = await w.client.get(
        f"/fhir/{w.tenant.code}/Immunization", params={"patient": str(person)}, headers=w.admin_auth
    )
    [entry] = searched.json()["entry"]
    return Call(path={"immunization_id": entry["resource"]["id"]}, headers=w.admin_auth)
