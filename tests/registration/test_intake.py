"""Every door into the register (API, claim-code registration, walk-in, import) stores a
person the same way: one ``add_members``, one contact rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from tests.registration.conftest import citizen_token, make_facility, staff_token
from tests.registration.helpers import member, national_id
from tests.registration.imports.import_support import person, run_import, write_csv
from vaxport.core.audit.models import AuditEntry
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.outbox.models import OutboxEvent
from vaxport.registration.models import Beneficiary, BeneficiaryDocument, DuplicateFlag
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

# What must not differ between doors (the rest says which door, who, when, and the key).
SAME = (
    "given_name", "family_name", "birth_date", "birth_year", "sex", "phone", "email",
    "match", "region_code", "preferred_locale", "guardian_relation", "status", "version",
    "merged_into_id", "phone_bidx", "email_bidx", "match_bidx",
)  # fmt: skip


def url(tenant: TenantInfo, suffix: str = "") -> str:
    return f"/api/v1/{tenant.code}/beneficiaries{suffix}"


async def test_every_door_stores_the_same_person_alike(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    tmp_path: Path,
) -> None:
    centre = await make_facility(clean_db, cache, tenant, code="HC-1", region_code="NOR-01-01")
    vaccinator = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=centre
    )
    citizen = await citizen_token(clean_db, settings, tenant)
    same = {
        "given_name": "Grace",
        "family_name": "Hopper",
        "birth_date": "1976-12-09",
        "region_code": "NOR-01-01",
        "preferred_locale": "en",
    }

    def body(phone: str, email: str) -> dict[str, Any]:
        doc = [{"id_type": "national-id", "number": national_id()}]
        return member(documents=doc, phone=phone, email=email, **same)

    # The same phone and address, typed as each door's users type them.
    made = {}
    for via, path, who, phone, email in [
        ("self", "", citizen, "(613) 555-0142", "Grace@Example.ORG"),
        ("staff", "", vaccinator, "+1 613 555 0142", " grace@example.org "),
        ("walk_in", "/walk-ins", vaccinator, "613.555.0142", "GRACE@EXAMPLE.ORG"),
    ]:
        r = await client.post(url(tenant, path), json=body(phone, email), headers=who.headers)
        assert r.status_code == 201, r.text
        made[via] = r.json()["id"]
    row = person(phone="6135550142", email="grace@example.ORG", **same)
    done, report = await run_import(
        clean_db, settings, tenant, write_csv(tmp_path / "f.csv", [row])
    )
    assert (done.rows_created, report) == (1, [])

    async with clean_db.read(tenant_id=tenant.id) as s:
        people = (await s.scalars(select(Beneficiary).order_by(Beneficiary.id))).all()
        stored = [{f: getattr(p, f) for f in SAME} for p in people]
        doors = [p.created_via for p in people]
        slips = [p.claim_code is not None for p in people]
        ids = [p.id for p in people]
        docs = (
            await s.execute(select(BeneficiaryDocument.id_type, BeneficiaryDocument.number_bidx))
        ).all()
        flags = (
            await s.execute(select(DuplicateFlag.beneficiary_id, DuplicateFlag.candidate_id))
        ).all()
        audited = (
            await s.execute(
                select(AuditEntry.object_id, AuditEntry.details).where(
                    AuditEntry.action == "beneficiary.register"
                )
            )
        ).all()
        events = (
            await s.scalars(
                select(OutboxEvent.payload).where(
                    OutboxEvent.event_type == "beneficiary.registered"
                )
            )
        ).all()
    assert doors == ["self", "staff", "walk_in", "import"]
    assert stored[0]["phone"] == "+16135550142"
    assert stored[0]["email"] == "grace@example.org"
    assert all(row == stored[0] for row in stored), stored
    assert slips == [False, True, True, False]  # staff print a claim code on the slip
    assert len(docs) == 4
    assert {t for t, _ in docs} == {"national-id"}
    assert all(bidx is not None for _, bidx in docs)
    # Each later person is flagged against each earlier one, once, whichever door.
    assert sorted((ids.index(a), ids.index(b)) for a, b in flags) == [
        (1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)
    ]  # fmt: skip
    # One audit entry and one event each, of one shape.
    by_person: dict[str, Any] = {str(o): d for o, d in audited}
    assert set(by_person) == {str(i) for i in ids}
    assert [by_person[str(i)]["flags"] for i in ids] == [0, 1, 2, 3]
    assert {frozenset(d) - {"import_id"} for d in by_person.values()} == {
        frozenset({"via", "documents", "flags"})
    }
    assert sorted(e["beneficiary_id"] for e in events) == sorted(str(i) for i in ids)
    assert {frozenset(e) for e in events} == {
        frozenset({"beneficiary_id", "region_code", "facility_id", "created_via"})
    }
