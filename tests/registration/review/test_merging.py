"""Possible duplicates through the service: review, dismiss, merge, undo, scope, races."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.identity.helpers import actor_for
from tests.registration.helpers import national_id
from tests.registration.review.review_support import add_flag, add_person, audit_actions, events
from tests.support.tenants import load_tenant
from vaxport.core.db import Database
from vaxport.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from vaxport.identity.access.actor import Actor
from vaxport.registration.models import Beneficiary
from vaxport.registration.reads import load_person, search_members
from vaxport.registration.review import merging
from vaxport.tenancy.schemas import TenantInfo

FACILITY = uuid.uuid4()


def national(tenant: TenantInfo) -> Actor:
    return actor_for(tenant, "national_admin")


async def _pair(
    db: Database,
    tenant: TenantInfo,
    *,
    region: str = "CEN-01-01",
    facility: uuid.UUID | None = None,
) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    older = await add_person(db, tenant, region_code=region, facility_id=facility)
    newer = await add_person(db, tenant, region_code=region, facility_id=facility)
    flag = await add_flag(db, tenant, newer, older, region=region, facility_id=facility)
    return older, newer, flag


async def _state(
    db: Database, tenant: TenantInfo, person: uuid.UUID
) -> tuple[str, uuid.UUID | None]:
    async with db.read(tenant_id=tenant.id) as s:
        row = await s.get(Beneficiary, person)
        assert row is not None
        return row.status, row.merged_into_id


async def _resolved(db: Database, tenant: TenantInfo, person: uuid.UUID) -> uuid.UUID:
    async with db.read(tenant_id=tenant.id) as s:
        row = await load_person(s, tenant.id, person)
        assert row is not None
        return row.id


async def test_staff_compare_merge_and_undo_with_audit_and_events(
    clean_db: Database, tenant: TenantInfo
) -> None:
    older, newer, flag = await _pair(clean_db, tenant)
    admin = national(tenant)
    page = await merging.list_flags(db=clean_db, actor=admin)
    assert [(f.id, f.merge_id) for f in page.items] == [(flag, None)]

    seen = await merging.compare(db=clean_db, actor=admin, flag_id=flag)
    assert {seen.first.id, seen.second.id} == {older, newer}
    assert seen.first.given_name == "Ada"
    assert seen.first.documents[0].number_hint.startswith("\u2022" * 6)

    merge = await merging.merge_flag(db=clean_db, actor=admin, flag_id=flag, survivor_id=older)
    assert (merge.survivor_id, merge.merged_id) == (older, newer)
    assert await _state(clean_db, tenant, newer) == ("merged", older)
    assert await _state(clean_db, tenant, older) == ("active", None)
    assert await _resolved(clean_db, tenant, newer) == older
    assert (await merging.list_flags(db=clean_db, actor=admin)).items == []
    merged_flags = await merging.list_flags(db=clean_db, actor=admin, status="merged")
    assert [f.merge_id for f in merged_flags.items] == [merge.id]

    undone = await merging.undo(db=clean_db, actor=admin, merge_id=merge.id)
    assert undone.undone_at is not None
    assert await _state(clean_db, tenant, newer) == ("active", None)
    assert await _resolved(clean_db, tenant, newer) == newer
    assert [f.id for f in (await merging.list_flags(db=clean_db, actor=admin)).items] == [flag]
    with pytest.raises(Conflict):
        await merging.undo(db=clean_db, actor=admin, merge_id=merge.id)

    assert await audit_actions(clean_db, tenant, newer) == [
        "beneficiary.duplicate_viewed",
        "beneficiary.merged",
        "beneficiary.unmerged",
    ]
    assert [t for t, _ in await events(clean_db, tenant, "beneficiary.")] == [
        "beneficiary.merged",
        "beneficiary.unmerged",
    ]
    payload = (await events(clean_db, tenant, "beneficiary."))[0][1]
    assert payload == {
        "merged_id": str(newer),
        "survivor_id": str(older),
        "merge_id": str(merge.id),
    }


async def test_dismissed_flags_leave_both_records(clean_db: Database, tenant: TenantInfo) -> None:
    older, newer, flag = await _pair(clean_db, tenant)
    done = await merging.dismiss(db=clean_db, actor=national(tenant), flag_id=flag)
    assert done.status == "dismissed"
    assert await _state(clean_db, tenant, newer) == ("active", None)
    assert (await audit_actions(clean_db, tenant, newer))[-1] == "beneficiary.duplicate_dismissed"
    with pytest.raises(Conflict):
        await merging.merge_flag(
            db=clean_db, actor=national(tenant), flag_id=flag, survivor_id=older
        )


async def test_refused_merges(clean_db: Database, tenant: TenantInfo) -> None:
    admin = national(tenant)
    older, newer, flag = await _pair(clean_db, tenant)
    third = await add_person(clean_db, tenant)
    with pytest.raises(ValidationFailed):  # the survivor must be one of the pair
        await merging.merge_flag(db=clean_db, actor=admin, flag_id=flag, survivor_id=third)
    with pytest.raises(Conflict):
        await merging.merge_records(
            db=clean_db, actor=admin, beneficiary_id=older, survivor_id=older
        )
    await merging.merge_records(db=clean_db, actor=admin, beneficiary_id=newer, survivor_id=older)
    with pytest.raises(Conflict):  # into a merged record
        await merging.merge_records(
            db=clean_db, actor=admin, beneficiary_id=third, survivor_id=newer
        )
    with pytest.raises(Conflict):  # a merged record again
        await merging.merge_records(
            db=clean_db, actor=admin, beneficiary_id=newer, survivor_id=third
        )
    other = await load_tenant(clean_db)
    foreign = await add_person(clean_db, other)
    with pytest.raises(NotFound):  # across tenants: the other record does not exist here
        await merging.merge_records(
            db=clean_db, actor=admin, beneficiary_id=third, survivor_id=foreign
        )
    assert await _state(clean_db, tenant, third) == ("active", None)


async def test_out_of_scope_staff_and_citizens_are_refused(
    clean_db: Database, tenant: TenantInfo
) -> None:
    older, newer, flag = await _pair(clean_db, tenant, region="CEN-01-01", facility=FACILITY)
    elsewhere = await add_person(clean_db, tenant, region_code="NOR-01-01")
    refused = [
        actor_for(tenant, "region_admin", region_code="NOR"),
        actor_for(tenant, "vaccinator", facility_id=uuid.uuid4()),
        actor_for(await load_tenant(clean_db), "national_admin"),
    ]
    for actor in refused:
        assert (await merging.list_flags(db=clean_db, actor=actor)).items == []
        for act in (
            merging.compare(db=clean_db, actor=actor, flag_id=flag),
            merging.dismiss(db=clean_db, actor=actor, flag_id=flag),
            merging.merge_flag(db=clean_db, actor=actor, flag_id=flag, survivor_id=older),
        ):
            with pytest.raises(NotFound):
                await act
    # A regional admin reaching one record but not the other cannot merge them.
    cen = actor_for(tenant, "region_admin", region_code="CEN")
    with pytest.raises(NotFound):
        await merging.merge_records(
            db=clean_db, actor=cen, beneficiary_id=newer, survivor_id=elsewhere
        )
    citizen = actor_for(tenant, "citizen", kind="citizen")
    with pytest.raises(Forbidden):
        await merging.list_flags(db=clean_db, actor=citizen)
    with pytest.raises(Forbidden):
        await merging.merge_flag(db=clean_db, actor=citizen, flag_id=flag, survivor_id=older)
    vaccinator = actor_for(tenant, "vaccinator", facility_id=FACILITY)
    assert [f.id for f in (await merging.list_flags(db=clean_db, actor=vaccinator)).items] == [flag]
    merge = await merging.merge_flag(db=clean_db, actor=cen, flag_id=flag, survivor_id=older)
    with pytest.raises(NotFound):
        await merging.undo(db=clean_db, actor=refused[0], merge_id=merge.id)
    assert await _state(clean_db, tenant, newer) == ("merged", older)


async def test_two_staff_merging_one_flag_at_once_make_one_merge(
    clean_db: Database, tenant: TenantInfo
) -> None:
    older, newer, flag = await _pair(clean_db, tenant)
    staff = [national(tenant), actor_for(tenant, "region_admin", region_code="CEN")]

    async def attempt(actor: Actor, survivor: uuid.UUID) -> str:
        try:
            await merging.merge_flag(db=clean_db, actor=actor, flag_id=flag, survivor_id=survivor)
        except Conflict:
            return "conflict"
        return "merged"

    outcomes = await asyncio.gather(attempt(staff[0], older), attempt(staff[1], newer))
    assert sorted(outcomes) == ["conflict", "merged"]
    states = {await _state(clean_db, tenant, p) for p in (older, newer)}
    assert ("active", None) in states
    assert len([t for t, _ in await events(clean_db, tenant, "beneficiary.merged")]) == 1


async def test_undo_racing_a_decision_on_the_same_flag_never_deadlocks(
    clean_db: Database, tenant: TenantInfo
) -> None:
    older, _, flag = await _pair(clean_db, tenant)
    admin = national(tenant)
    merge = await merging.merge_flag(db=clean_db, actor=admin, flag_id=flag, survivor_id=older)

    async def outcome(act: Any) -> str:
        try:
            await act
        except Conflict:
            return "conflict"
        return "done"

    results = await asyncio.gather(
        outcome(merging.undo(db=clean_db, actor=admin, merge_id=merge.id)),
        outcome(merging.dismiss(db=clean_db, actor=admin, flag_id=flag)),
    )
    assert results[0] == "done"  # the undo always goes through; dismiss only after it
    assert results[1] in ("done", "conflict")


async def test_a_search_landing_on_a_merged_record_answers_with_its_survivor(
    clean_db: Database, tenant: TenantInfo
) -> None:
    admin = national(tenant)
    number = national_id()
    older = await add_person(clean_db, tenant)
    newer = await add_person(clean_db, tenant, number=number)
    await merging.merge_records(db=clean_db, actor=admin, beneficiary_id=newer, survivor_id=older)
    found = await search_members(
        db=clean_db, tenant=tenant, actor=admin, id_type="national-id", number=number
    )
    assert [(p.id, p.status) for p in found] == [(older, "active")]
    # A region admin reaching the merged record but not its survivor finds nobody.
    elsewhere = await add_person(clean_db, tenant, region_code="NOR-01-01")
    other_number = national_id()
    near = await add_person(clean_db, tenant, number=other_number)
    regional = actor_for(tenant, "region_admin", region_code="CEN")
    before = await search_members(
        db=clean_db, tenant=tenant, actor=regional, id_type="national-id", number=other_number
    )
    assert [p.id for p in before] == [near]
    await merging.merge_records(
        db=clean_db, actor=admin, beneficiary_id=near, survivor_id=elsewhere
    )
    found = await search_members(
        db=clean_db, tenant=tenant, actor=regional, id_type="national-id", number=other_number
    )
    assert found == []
