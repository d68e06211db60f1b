"""An offline device uploads walk-ins and doses: each record answered alone, a resend
changes nothing, a dose recorded meanwhile goes to review."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
import pytest

from tests.immunization.support import audited, doses, person_at
from tests.immunization.sync_support import (
    conflicts_url,
    dose,
    sync_url,
    upload,
    walk_in,
)
from tests.registration.conftest import Person
from vaxport.core.db import Database
from vaxport.tenancy.schemas import TenantInfo


async def test_a_walk_in_and_its_dose_are_accepted_under_the_devices_ids(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    person_id, dose_id = uuid.uuid4(), uuid.uuid4()

    out = await upload(
        client,
        tenant,
        vaccinator.headers,
        [walk_in(person_id), dose(walk_in_id=person_id, client_id=dose_id, notes="no reaction")],
    )

    assert [r["outcome"] for r in out["results"]] == ["accepted", "accepted"]
    assert out["results"][0]["id"] == str(person_id)
    assert (out["results"][1]["id"], out["results"][1]["beneficiary_id"]) == (
        str(dose_id),
        str(person_id),
    )
    [row] = await doses(clean_db, tenant)
    assert (row.id, row.source, row.lot_id, row.notes) == (dose_id, "offline", lot, "no reaction")
    assert row.device_recorded_at is not None
    [entry] = await audited(clean_db, tenant, "dose.record")
    assert entry.details["device_id"] == "tablet-1"
    assert len(await audited(clean_db, tenant, "sync.upload")) == 1


async def test_a_resent_batch_changes_nothing_and_answers_duplicate_with_the_same_ids(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    person_id = uuid.uuid4()
    records = [
        walk_in(person_id),
        dose(walk_in_id=person_id),
        dose(person=uuid.uuid4()),  # unknown person: rejected both times
    ]
    first = await upload(client, tenant, vaccinator.headers, records)

    second = await upload(client, tenant, vaccinator.headers, records)

    assert [r["outcome"] for r in first["results"]] == ["accepted", "accepted", "rejected"]
    assert [r["outcome"] for r in second["results"]] == ["duplicate", "duplicate", "rejected"]
    for a, b in zip(first["results"], second["results"], strict=True):
        assert (a["id"], a["beneficiary_id"], a["error"]) == (
            b["id"],
            b["beneficiary_id"],
            b["error"],
        )
    assert len(await doses(clean_db, tenant)) == 1
    assert len(await audited(clean_db, tenant, "beneficiary.register")) == 1


async def test_a_mixed_batch_answers_each_record_alone(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    known = await person_at(clean_db, tenant, centre)
    given = await person_at(clean_db, tenant, centre)
    online = await client.post(
        f"/api/v1/{tenant.code}/doses",
        json={"beneficiary_id": str(given), "product_id": "covid-mrna", "lot_number": "EX1234"},
        headers=vaccinator.headers,
    )
    assert online.status_code == 201, online.text
    sent_before = dose(person=known)
    await upload(client, tenant, vaccinator.headers, [sent_before])
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat()

    out = await upload(
        client,
        tenant,
        vaccinator.headers,
        [
            sent_before,  # duplicate
            dose(person=given, dose_number=1),  # recorded online meanwhile: conflict
            dose(person=known, lot_number="NOPE"),  # rejected: unknown lot
            walk_in(),  # accepted
            dose(person=known, device_time=future),  # rejected: the device's clock
            dose(person=known) | {"client_id": "not-a-uuid"},  # rejected: its shape
        ],
    )

    results = out["results"]
    assert [r["outcome"] for r in results] == [
        "duplicate",
        "conflict",
        "rejected",
        "accepted",
        "rejected",
        "rejected",
    ]
    assert results[1]["existing_id"] == online.json()["id"]
    assert results[2]["error"]["type"].endswith("/unknown-lot")
    assert results[2]["error"]["field"] == "lot_number"
    assert (results[4]["error"]["code"], results[4]["error"]["field"]) == (
        "device-clock-ahead",
        "device_time",
    )
    assert results[5]["error"]["field"] == "client_id"
    assert results[5]["client_id"] is None
    assert out["counts"] == {"accepted": 1, "duplicate": 1, "conflict": 1, "rejected": 3}


async def test_a_dose_of_a_rejected_walk_in_is_rejected_with_its_reason(
    client: httpx.AsyncClient,
    tenant: TenantInfo,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    person_id = uuid.uuid4()

    out = await upload(
        client,
        tenant,
        vaccinator.headers,
        [walk_in(person_id, birth_date="2999-01-01"), dose(walk_in_id=person_id)],
    )

    walk, given = out["results"]
    assert walk["outcome"] == given["outcome"] == "rejected"
    assert walk["error"]["field"].startswith("person.")
    assert given["error"]["code"] == "walk-in-rejected"
    assert given["error"]["field"] == "person_client_id"
    assert walk["error"]["reason"] in given["error"]["reason"]


async def test_another_tenants_person_is_rejected_as_an_unknown_one(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    from tests.scheduling.booking.support import add_people
    from tests.support.tenants import load_tenant

    other = await load_tenant(clean_db, code="othertenant")
    [theirs] = await add_people(clean_db, other, 1)

    out = await upload(
        client, tenant, vaccinator.headers, [dose(person=theirs), dose(person=uuid.uuid4())]
    )

    a, b = out["results"]
    assert a["outcome"] == b["outcome"] == "rejected"
    assert a["error"] == b["error"]
    assert a["error"]["code"] == "unknown-person"


async def test_a_conflict_waits_for_review_and_is_resolved_once(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    given = await person_at(clean_db, tenant, centre)
    online = await client.post(
        f"/api/v1/{tenant.code}/doses",
        json={"beneficiary_id": str(given), "product_id": "covid-mrna", "lot_number": "EX1234"},
        headers=vaccinator.headers,
    )
    assert online.status_code == 201, online.text
    record = dose(person=given, dose_number=1)
    [held] = (await upload(client, tenant, vaccinator.headers, [record]))["results"]
    [again] = (await upload(client, tenant, vaccinator.headers, [record]))["results"]
    assert held["outcome"] == again["outcome"] == "conflict"
    assert held["conflict_id"] == again["conflict_id"]

    listed = await client.get(conflicts_url(tenant), headers=vaccinator.headers)
    assert listed.status_code == 200, listed.text
    [entry] = listed.json()["items"]
    assert (entry["id"], entry["existing_dose_id"]) == (held["conflict_id"], online.json()["id"])

    url = f"{conflicts_url(tenant)}/{entry['id']}/resolve"
    done = await client.post(
        url, json={"action": "keep-existing", "reason": "the same dose"}, headers=vaccinator.headers
    )
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["resolution"]) == ("resolved", "keep-existing")
    twice = await client.post(
        url, json={"action": "discard", "reason": "again"}, headers=vaccinator.headers
    )
    assert twice.status_code == 409
    [entry_audit] = await audited(clean_db, tenant, "sync.conflict.resolve")
    assert entry_audit.details["action"] == "keep-existing"
    assert "the same dose" not in str(entry_audit.details)
    assert len(await doses(clean_db, tenant)) == 1
    left = await client.get(conflicts_url(tenant), headers=vaccinator.headers)
    assert left.json()["items"] == []


async def test_a_batch_over_the_limit_is_413(
    client: httpx.AsyncClient, tenant: TenantInfo, vaccinator: Person, settings: object
) -> None:
    big = b'{"device_id": "t", "records": [' + b" " * (16 * 1_048_576) + b"]}"

    r = await client.post(
        sync_url(tenant),
        content=big,
        headers=vaccinator.headers | {"content-type": "application/json"},
    )

    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        (b'{"device_id": "t", "records": [', "body", "json_invalid"),
        (b"\xff\xfe not text", "body", "json_invalid"),
        (b"[" * 100 + b"]" * 100, "body", "json_too_deep"),
        (b'{"device_id": "t", "device_id": "u", "records": []}', "device_id", None),
    ],
)
async def test_a_batch_that_is_not_json_is_a_422_naming_the_body_and_writes_nothing(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    vaccinator: Person,
    body: bytes,
    field: str,
    code: str | None,
) -> None:
    r = await client.post(
        sync_url(tenant),
        content=body,
        headers=vaccinator.headers | {"content-type": "application/json"},
    )

    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    [error] = r.json()["errors"]
    assert error["field"] == field
    assert code is None or error["code"] == code
    assert await doses(clean_db, tenant) == []
