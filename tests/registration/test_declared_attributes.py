"""Declared risk groups and occupations: given at registration or changed later by whoever
may change the person, checked against the tenant's codes, stored encrypted under the
person's own key, audited without their values, exported and shredded with the person."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.registration.conftest import citizen_token, make_facility, staff_token
from tests.registration.helpers import member
from tests.registration.imports.import_support import HEADER, person, run_import, write_csv
from tests.registration.test_person_cli import _register
from vaxport.cli import app
from vaxport.core.audit.models import AuditEntry
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.cli_support import run_with_db
from vaxport.core.crypto import SubjectKeyDestroyedError
from vaxport.core.db import Database
from vaxport.core.outbox.models import OutboxEvent
from vaxport.registration.declared import PAD_TO
from vaxport.registration.models import Beneficiary
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo
from vaxport.tenancy.service import get_tenant_or_404

PROBLEM = "application/problem+json"


def url(tenant: TenantInfo, suffix: str = "") -> str:
    return f"/api/v1/{tenant.code}/beneficiaries{suffix}"


async def _count(db: Database, tenant: TenantInfo) -> int:
    async with db.read(tenant_id=tenant.id) as s:
        n = await s.scalar(
            select(func.count()).select_from(Beneficiary).where(Beneficiary.tenant_id == tenant.id)
        )
    return int(n or 0)


async def _raw(db: Database, tenant: TenantInfo, person_id: str) -> bytes | None:
    async with db.read(tenant_id=tenant.id) as s:
        raw = await s.scalar(
            select(Beneficiary.__table__.c.declared_enc).where(
                Beneficiary.id == uuid.UUID(person_id)
            )
        )
    return None if raw is None else bytes(raw)


async def test_a_member_declared_at_registration_comes_back_folded_in_the_tenants_order(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    body = member(
        risk_groups=["pregnancy", "immunocompromised", "pregnancy"],
        occupations=["teacher"],
    )
    r = await client.post(url(tenant), json=body, headers=me.headers)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["risk_groups"] == ["immunocompromised", "pregnancy"]
    assert made["occupations"] == ["teacher"]
    got = await client.get(url(tenant, f"/{made['id']}"), headers=me.headers)
    assert (got.json()["risk_groups"], got.json()["occupations"]) == (
        ["immunocompromised", "pregnancy"],
        ["teacher"],
    )
    # Ciphertext, padded: neither the codes nor how many show in the database.
    plain = await client.post(url(tenant), json=member(), headers=me.headers)
    declared = await _raw(clean_db, tenant, made["id"])
    nothing = await _raw(clean_db, tenant, plain.json()["id"])
    assert declared is not None
    assert nothing is not None
    assert b"pregnancy" not in declared
    assert b"teacher" not in declared
    assert len(declared) == len(nothing)
    assert PAD_TO <= len(declared) < 2 * PAD_TO


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"risk_groups": ["pregnancy", "astrology"]}, "risk_groups.1"),
        ({"occupations": ["health-worker", "pregnancy"]}, "occupations.1"),
        ({"risk_groups": ["x"] * 33}, "risk_groups"),
        ({"occupations": [""]}, "occupations.0"),
        ({"occupations": "teacher"}, "occupations"),
    ],
)
async def test_an_unknown_code_or_a_bad_list_is_refused_naming_it_and_nothing_is_written(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    changes: dict[str, Any],
    field: str,
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    created = await client.post(url(tenant), json=member(), headers=me.headers)
    before = created.json()
    r = await client.post(url(tenant), json=member(**changes), headers=me.headers)
    assert (r.status_code, r.headers["content-type"]) == (422, PROBLEM)
    assert [e["field"] for e in r.json()["errors"]] == [field]
    assert await _count(clean_db, tenant) == 1
    patched = await client.patch(url(tenant, f"/{before['id']}"), json=changes, headers=me.headers)
    assert (patched.status_code, patched.headers["content-type"]) == (422, PROBLEM)
    assert [e["field"] for e in patched.json()["errors"]] == [field]
    after = (await client.get(url(tenant, f"/{before['id']}"), headers=me.headers)).json()
    assert after["version"] == before["version"]
    assert (after["risk_groups"], after["occupations"]) == ([], [])


async def test_the_reason_says_what_is_wrong_without_repeating_the_code(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    r = await client.post(url(tenant), json=member(occupations=["astronaut"]), headers=me.headers)
    [error] = r.json()["errors"]
    assert error["field"] == "occupations.0"
    assert "not an occupation this country lists" in error["reason"]
    assert "astronaut" not in r.text


async def test_a_patch_replaces_one_set_keeps_the_other_and_is_audited_without_values(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    made = await client.post(
        url(tenant), json=member(risk_groups=["chronic-illness"]), headers=me.headers
    )
    item = url(tenant, f"/{made.json()['id']}")
    r = await client.patch(item, json={"occupations": ["health-worker"]}, headers=me.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["risk_groups"], r.json()["occupations"]) == (
        ["chronic-illness"],
        ["health-worker"],
    )
    assert r.json()["version"] == 2
    same = await client.patch(item, json={"occupations": ["health-worker"]}, headers=me.headers)
    assert same.json()["version"] == 2  # nothing changed: no new version, no audit entry
    cleared = await client.patch(item, json={"risk_groups": None}, headers=me.headers)
    assert (cleared.json()["risk_groups"], cleared.json()["occupations"]) == (
        [],
        ["health-worker"],
    )
    async with clean_db.read(tenant_id=tenant.id) as s:
        entries = (
            await s.scalars(
                select(AuditEntry.details)
                .where(AuditEntry.action == "beneficiary.update")
                .order_by(AuditEntry.id)
            )
        ).all()
        events = (
            await s.scalars(
                select(OutboxEvent.payload)
                .where(OutboxEvent.event_type == "beneficiary.updated")
                .order_by(OutboxEvent.id)
            )
        ).all()
    assert [e["fields"] for e in entries] == [["occupations"], ["risk_groups"]]
    assert [e["fields"] for e in events] == [["occupations"], ["risk_groups"]]
    for kept in (*entries, *events):
        assert "health-worker" not in json.dumps(kept)
        assert "chronic-illness" not in json.dumps(kept)


async def test_only_who_may_change_the_person_sets_them_and_staff_record_them_for_walk_ins(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    peer = await citizen_token(clean_db, settings, tenant)
    made = await client.post(url(tenant), json=member(), headers=me.headers)
    item = url(tenant, f"/{made.json()['id']}")
    r = await client.patch(item, json={"risk_groups": ["pregnancy"]}, headers=peer.headers)
    assert r.status_code == 404
    assert (await client.get(item, headers=me.headers)).json()["risk_groups"] == []

    centre = await make_facility(clean_db, cache, tenant, code="HC-1", region_code="NOR-01-01")
    vaccinator = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=centre
    )
    walk_in = await client.post(
        url(tenant, "/walk-ins"),
        json=member(region_code="NOR-01-02", occupations=["health-worker"]),
        headers=vaccinator.headers,
    )
    assert walk_in.status_code == 201, walk_in.text
    assert walk_in.json()["occupations"] == ["health-worker"]
    found = await client.get(
        url(tenant, "/search"),
        params={"reference": walk_in.json()["reference"]},
        headers=vaccinator.headers,
    )
    assert found.json()[0]["occupations"] == ["health-worker"]


async def test_a_tenant_that_lists_none_refuses_every_code(
    client: httpx.AsyncClient, clean_db: Database, cache: Cache, settings: Settings
) -> None:
    from tests.support.tenants import load_tenant

    bare = await load_tenant(clean_db, cache, changes={"eligibility": {}})
    me = await citizen_token(clean_db, settings, bare)
    r = await client.post(url(bare), json=member(risk_groups=["pregnancy"]), headers=me.headers)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["risk_groups.0"]
    ok = await client.post(url(bare), json=member(), headers=me.headers)
    assert (ok.status_code, ok.json()["risk_groups"]) == (201, [])


async def test_an_import_reads_the_code_columns_and_reports_an_unknown_code_by_column(
    clean_db: Database, settings: Settings, tenant: TenantInfo, tmp_path: Path
) -> None:
    header = [*HEADER, "risk_groups", "occupations"]
    rows = [
        person(given_name="Coded", risk_groups="pregnancy; immunocompromised", occupations=""),
        person(risk_groups="", occupations="teacher;astronaut"),
    ]
    done, problems = await run_import(
        clean_db, settings, tenant, write_csv(tmp_path / "declared.csv", rows, header)
    )
    assert (done.rows_created, done.rows_invalid) == (1, 1)
    assert [(r["row"], r["field"]) for r in problems] == [("3", "occupations")]
    assert "astronaut" not in json.dumps(problems)
    async with clean_db.read(tenant_id=tenant.id) as s:
        stored = await s.scalar(select(Beneficiary))
        assert stored is not None
        assert (stored.risk_groups, stored.occupations) == (("immunocompromised", "pregnancy"), ())


def test_the_export_holds_them_and_erasure_shreds_them(cli: CliRunner, clean_db: Database) -> None:
    pid, raw = _register(clean_db.url, member(risk_groups=["immunocompromised"]))
    assert raw["declared_enc"] is not None
    out = cli.invoke(app, ["person", "export", "--tenant", "demo", "--beneficiary-id", pid])
    assert out.exit_code == 0, out.output
    record = json.loads(out.output)["beneficiary"]
    assert (record["risk_groups"], record["occupations"]) == (["immunocompromised"], [])

    erased = cli.invoke(app, ["person", "erase", "--tenant", "demo", "--beneficiary-id", pid])
    assert erased.exit_code == 0, erased.output

    async def restored_backup(db: Database) -> None:
        tenant = await get_tenant_or_404(db=db, cache=Cache(MemoryBackend()), code="demo")
        async with db.transaction(tenant_id=tenant.id) as uow:
            await uow.session.execute(Beneficiary.__table__.insert().values(**raw))
        async with db.read(tenant_id=tenant.id) as s:
            back = await s.scalar(select(Beneficiary).where(Beneficiary.id == uuid.UUID(pid)))
            assert back is not None
            assert back.declared_enc is not None
            with pytest.raises(SubjectKeyDestroyedError):
                _ = back.risk_groups

    run_with_db(restored_backup, url=clean_db.url)
