"""Citizens registering their family through the API: create, read, change, erase."""

from __future__ import annotations

import httpx
from sqlalchemy import select, text

from tests.identity.helpers import last_code
from tests.registration.conftest import citizen_token
from tests.registration.helpers import member, national_id
from vaxport.core.audit.models import AuditEntry
from vaxport.core.db import Database
from vaxport.core.outbox.models import OutboxEvent
from vaxport.registration.models import DuplicateFlag
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


def url(tenant: TenantInfo, suffix: str = "") -> str:
    return f"/api/v1/{tenant.code}/beneficiaries{suffix}"


async def test_a_citizen_registers_reads_lists_and_changes_a_family_member(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    number = national_id()
    body = member(documents=[{"id_type": "national-id", "number": number[:3] + " " + number[3:]}])
    r = await client.post(url(tenant), json=body, headers=me.headers)
    assert r.status_code == 201, r.text
    made = r.json()
    assert r.headers["location"] == url(tenant, f"/{made['id']}")
    assert made["documents"] == [{"id_type": "national-id", "number": number}]
    assert made["claim_code"] is None
    assert made["claimed"] is True
    assert len(made["reference"]) == 8
    got = await client.get(url(tenant, f"/{made['id']}"), headers=me.headers)
    assert got.status_code == 200
    assert got.json()["given_name"] == "Ada"
    listed = await client.get(url(tenant), headers=me.headers)
    assert [p["id"] for p in listed.json()["items"]] == [made["id"]]
    patched = await client.patch(
        url(tenant, f"/{made['id']}"),
        json={"region_code": "SOU-01-02", "preferred_locale": "fr", "guardian_relation": None},
        headers=me.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["region_code"] == "SOU-01-02"
    assert patched.json()["version"] == 2
    async with clean_db.read(tenant_id=tenant.id) as s:
        actions = (
            await s.scalars(select(AuditEntry.action).where(AuditEntry.object_id == made["id"]))
        ).all()
        events = (await s.scalars(select(OutboxEvent.event_type))).all()
    # A citizen reading their own family is not a staff read: only the writes are audited.
    assert sorted(actions) == ["beneficiary.register", "beneficiary.update"]
    assert {"beneficiary.registered", "beneficiary.updated"} <= set(events)


async def test_unknown_or_identity_fields_in_a_patch_are_refused(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    made = (await client.post(url(tenant), json=member(), headers=me.headers)).json()
    for field in ("account_id", "facility_id", "given_name", "birth_date", "documents"):
        r = await client.patch(url(tenant, f"/{made['id']}"), json={field: "x"}, headers=me.headers)
        assert r.status_code == 422, field
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["errors"][0]["field"] == field
    # A citizen's new phone needs a code sent to it.
    r = await client.patch(
        url(tenant, f"/{made['id']}"), json={"phone": "+16135550199"}, headers=me.headers
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "contact_code"


async def test_each_bad_field_is_a_problem_naming_it_and_nothing_is_written(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    cases = {
        "sex": {"sex": "robot"},
        "birth_date": {"birth_date": "2999-01-01"},
        "documents.0.number": {"documents": [{"id_type": "national-id", "number": "1234567890"}]},
        "documents.0.id_type": {"documents": [{"id_type": "library-card", "number": "1"}]},
        "phone": {"phone": "555"},
        "email": {"email": "nobody@"},
        "region_code": {"region_code": "NOR"},
        "preferred_locale": {"preferred_locale": "de"},
        "guardian_relation": {"guardian_relation": "neighbour"},
        "given_name": {"given_name": ""},
        "account_id": {"account_id": "00000000-0000-0000-0000-000000000000"},
    }
    for field, change in cases.items():
        r = await client.post(url(tenant), json=member(**change), headers=me.headers)
        assert r.status_code == 422, (field, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in {e["field"] for e in r.json()["errors"]}, (field, r.json())
    listed = await client.get(url(tenant), headers=me.headers)
    assert listed.json()["items"] == []


async def test_the_family_size_limit_is_enforced(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    limit = tenant.config.family.max_beneficiaries_per_account
    for i in range(limit):
        r = await client.post(url(tenant), json=member(given_name=f"P{i}"), headers=me.headers)
        assert r.status_code == 201, r.text
    r = await client.post(url(tenant), json=member(), headers=me.headers)
    assert r.status_code == 409
    assert r.json()["type"].endswith("/family-full")
    assert r.json()["limit"] == limit


async def test_a_second_registration_of_an_id_gets_the_same_answer_whoever_holds_it(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    stranger = await citizen_token(clean_db, settings, tenant)
    number = national_id()
    doc = [{"id_type": "national-id", "number": number}]
    assert (
        await client.post(url(tenant), json=member(documents=doc), headers=me.headers)
    ).status_code == 201
    mine = await client.post(
        url(tenant), json=member(given_name="Bo", documents=doc), headers=me.headers
    )
    theirs = await client.post(
        url(tenant),
        json=member(
            given_name="Bo",
            documents=[{"id_type": "national-id", "number": f"{number[:5]}-{number[5:]}"}],
        ),
        headers=stranger.headers,
    )
    assert mine.status_code == theirs.status_code == 409
    a, b = mine.json(), theirs.json()
    a.pop("instance", None)
    b.pop("instance", None)
    assert a == b
    assert a["type"].endswith("/already-registered")
    assert set(a["recovery"]) == {"claim", "support"}
    assert number not in mine.text
    # No partial rows: the stranger still has no family member.
    assert (await client.get(url(tenant), headers=stranger.headers)).json()["items"] == []


async def test_look_alikes_are_flagged_for_review_not_merged(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    other = await citizen_token(clean_db, settings, tenant)
    first = await client.post(url(tenant), json=member(given_name="Zoé"), headers=me.headers)
    second = await client.post(
        url(tenant), json=member(given_name="ZOE", family_name="lovelace"), headers=other.headers
    )
    elsewhere = await client.post(
        url(tenant), json=member(given_name="Zoe", region_code="SOU-01-01"), headers=other.headers
    )
    assert {first.status_code, second.status_code, elsewhere.status_code} == {201}
    async with clean_db.read(tenant_id=tenant.id) as s:
        flags = (
            await s.execute(
                select(
                    DuplicateFlag.beneficiary_id, DuplicateFlag.candidate_id, DuplicateFlag.status
                )
            )
        ).all()
    assert [(str(a), str(b), st) for a, b, st in flags] == [
        (second.json()["id"], first.json()["id"], "open")
    ]


async def test_other_accounts_members_do_not_exist_for_a_citizen(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    other = await citizen_token(clean_db, settings, tenant)
    number = national_id()
    made = (
        await client.post(
            url(tenant),
            json=member(
                documents=[{"id_type": "national-id", "number": number}], phone="+16135550123"
            ),
            headers=me.headers,
        )
    ).json()
    path = url(tenant, f"/{made['id']}")
    assert (await client.get(path, headers=other.headers)).status_code == 404
    assert (
        await client.patch(path, json={"sex": "male"}, headers=other.headers)
    ).status_code == 404
    assert (await client.delete(path, headers=other.headers)).status_code == 404
    assert (await client.get(url(tenant), headers=other.headers)).json()["items"] == []
    for query in (
        {"id_type": "national-id", "number": number},
        {"phone": "+16135550123"},
        {"reference": made["reference"]},
    ):
        r = await client.get(url(tenant, "/search"), params=query, headers=other.headers)
        assert r.status_code == 200
        assert r.json() == []
        mine = await client.get(url(tenant, "/search"), params=query, headers=me.headers)
        assert [p["id"] for p in mine.json()] == [made["id"]]


async def test_an_idempotent_retry_registers_one_member(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    headers = {**me.headers, "Idempotency-Key": "family-add-0001"}
    body = member()
    first = await client.post(url(tenant), json=body, headers=headers)
    again = await client.post(url(tenant), json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert len((await client.get(url(tenant), headers=me.headers)).json()["items"]) == 1


async def test_erasing_a_never_vaccinated_member_leaves_nothing_readable(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    made = (await client.post(url(tenant), json=member(), headers=me.headers)).json()
    path = url(tenant, f"/{made['id']}")
    r = await client.delete(path, headers=me.headers)
    assert r.status_code == 204, r.text
    assert (await client.get(path, headers=me.headers)).status_code == 404
    async with clean_db.read(tenant_id=tenant.id) as s:
        entry = (
            await s.execute(
                select(AuditEntry.action, AuditEntry.details).where(
                    AuditEntry.object_id == made["id"], AuditEntry.action == "beneficiary.erase"
                )
            )
        ).one()
    assert entry.details == {"via": "self", "documents": 1}


async def test_the_database_holds_no_plaintext_of_names_ids_or_phones(
    client: httpx.AsyncClient,
    clean_db: Database,
    owner_db: Database,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    number = national_id()
    body = member(
        given_name="Quintessa",
        family_name="Verbeeckhoven",
        phone="+16135550177",
        email="quintessa@example.org",
        documents=[{"id_type": "national-id", "number": number}],
    )
    assert (await client.post(url(tenant), json=body, headers=me.headers)).status_code == 201
    dump = []
    async with owner_db.read() as s:
        for table in ("beneficiaries", "beneficiary_documents", "audit_entries", "outbox_events"):
            rows = (await s.execute(text(f"SELECT * FROM {table}"))).all()
            assert rows, table
            dump.extend(repr(tuple(r)) for r in rows)
    blob = "\n".join(dump).lower()
    for secret in ("quintessa", "verbeeckhoven", "6135550177", number, "1985-12-10"):
        assert secret not in blob, secret


async def test_a_citizen_changes_a_phone_with_a_code_sent_to_the_new_number(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    made = (await client.post(url(tenant), json=member(), headers=me.headers)).json()
    path = url(tenant, f"/{made['id']}")
    without = await client.patch(path, json={"phone": "+16135550199"}, headers=me.headers)
    assert without.status_code == 422
    assert without.json()["errors"][0]["field"] == "contact_code"
    asked = await client.post(
        path + "/contact-codes", json={"phone": "613 555 0199"}, headers=me.headers
    )
    assert asked.status_code == 202, asked.text
    proof = {
        "transaction_id": asked.json()["transaction_id"],
        "code": await last_code(clean_db, tenant.id),
    }
    # The code proves that number only.
    other = await client.patch(
        path, json={"phone": "+16135550100", "contact_code": proof}, headers=me.headers
    )
    assert other.status_code == 422
    asked = await client.post(
        path + "/contact-codes", json={"phone": "613 555 0199"}, headers=me.headers
    )
    proof = {
        "transaction_id": asked.json()["transaction_id"],
        "code": await last_code(clean_db, tenant.id),
    }
    ok = await client.patch(
        path, json={"phone": "+1 613 555 0199", "contact_code": proof}, headers=me.headers
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["phone"] == "+16135550199"
    # Removing a contact needs no code.
    cleared = await client.patch(path, json={"phone": None}, headers=me.headers)
    assert cleared.json()["phone"] is None


async def test_notifications_reach_a_registered_person_through_registration(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    import uuid

    from vaxport.notifications.recipients import resolve_contact

    me = await citizen_token(clean_db, settings, tenant)
    made = (
        await client.post(
            url(tenant),
            json=member(phone="+16135550142", preferred_locale="fr"),
            headers=me.headers,
        )
    ).json()
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        found = await resolve_contact(uow, tenant_id=tenant.id, subject_id=uuid.UUID(made["id"]))
        unknown = await resolve_contact(uow, tenant_id=tenant.id, subject_id=uuid.uuid4())
    assert found is not None
    assert (found.phone, found.email, found.locale) == ("+16135550142", None, "fr")
    assert unknown is None
