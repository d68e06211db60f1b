"""Corrections through the service: request, decide, withdraw, history, scope, concurrency."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select, text

from tests.identity.helpers import actor_for
from tests.registration.helpers import national_id
from tests.registration.review.review_support import add_citizen, add_person, audit_actions, events
from tests.support.tenants import load_tenant
from vaxport.core.crypto import blind_match
from vaxport.core.db import Database
from vaxport.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from vaxport.identity.access.actor import Actor
from vaxport.registration.models import Beneficiary, BeneficiaryDocument
from vaxport.registration.review import correction_queue, corrections
from vaxport.registration.review.schemas import CorrectionOut
from vaxport.tenancy.schemas import TenantInfo

FACILITY = uuid.uuid4()


def citizen(tenant: TenantInfo, account_id: uuid.UUID) -> Actor:
    return actor_for(tenant, "citizen", account_id=account_id, kind="citizen")


def national(tenant: TenantInfo) -> Actor:
    return actor_for(tenant, "national_admin")


async def _person(db: Database, tenant: TenantInfo, **kw: object) -> tuple[Actor, uuid.UUID]:
    owner = await add_citizen(db, tenant)
    person = await add_person(db, tenant, account_id=owner, **kw)  # type: ignore[arg-type]
    return citizen(tenant, owner), person


async def _ask(
    db: Database, tenant: TenantInfo, actor: Actor, person: uuid.UUID, **kw: object
) -> CorrectionOut:
    args: dict[str, object] = {"field": "given_name", "value": "Augusta", "reason": "typo"}
    args.update(kw)
    return await corrections.request_correction(
        db=db,
        tenant=tenant,
        actor=actor,
        beneficiary_id=person,
        **args,  # type: ignore[arg-type]
    )


@dataclass
class Stored:
    given_name: str | None
    birth_date: dt.date | None
    birth_year: int
    match: str | None
    version: int


async def _load(db: Database, tenant: TenantInfo, person: uuid.UUID) -> Stored:
    async with db.read(tenant_id=tenant.id) as s:
        row = await s.get(Beneficiary, person)
        assert row is not None
        return Stored(row.given_name, row.birth_date, row.birth_year, row.match, row.version)


async def test_approved_correction_changes_the_record_keeps_history_and_publishes(
    clean_db: Database, tenant: TenantInfo
) -> None:
    owner, person = await _person(clean_db, tenant)
    asked = await _ask(clean_db, tenant, owner, person)
    assert asked.status == "pending"
    assert asked.proposed == {"value": "Augusta"}

    queue = await correction_queue.list_pending(db=clean_db, actor=national(tenant))
    assert [i.id for i in queue.items] == [asked.id]
    review = await correction_queue.get_for_review(
        db=clean_db, actor=national(tenant), correction_id=asked.id
    )
    assert review.present == {"value": "Ada"}
    assert review.request.reason == "typo"

    done = await corrections.decide(
        db=clean_db, actor=national(tenant), correction_id=asked.id, approve=True, note="ok"
    )
    assert done.status == "approved"
    assert done.previous == {"value": "Ada"}
    row = await _load(clean_db, tenant, person)
    assert (row.given_name, row.version) == ("Augusta", 2)
    assert row.match == "lovelace|augusta|1985-12-10"
    assert await audit_actions(clean_db, tenant, person) == [
        "beneficiary.correction_requested",
        "beneficiary.correction_viewed",
        "beneficiary.corrected",
    ]
    assert await events(clean_db, tenant, "beneficiary.") == [
        (
            "beneficiary.corrected",
            {
                "beneficiary_id": str(person),
                "correction_id": str(asked.id),
                "field": "given_name",
                "version": 2,
            },
        )
    ]
    history = await corrections.history(db=clean_db, actor=owner, beneficiary_id=person)
    assert [(h.status, h.previous, h.decision_note) for h in history] == [
        ("approved", {"value": "Ada"}, "ok")
    ]
    assert (await correction_queue.list_pending(db=clean_db, actor=national(tenant))).items == []


async def test_history_is_stored_encrypted(clean_db: Database, tenant: TenantInfo) -> None:
    owner, person = await _person(clean_db, tenant, given_name="Zenobia")
    asked = await _ask(clean_db, tenant, owner, person, value="Xanthippe", reason="my real name")
    await corrections.decide(
        db=clean_db, actor=national(tenant), correction_id=asked.id, approve=True, note="seen ID"
    )
    async with clean_db.read(tenant_id=tenant.id) as s:
        raw = (
            await s.execute(
                text(
                    "SELECT proposed_enc, previous_enc, reason_enc, decision_note_enc"
                    " FROM beneficiary_corrections"
                )
            )
        ).one()
    blob = b"".join(bytes(v) for v in raw)
    for plain in (b"Zenobia", b"Xanthippe", b"my real name", b"seen ID"):
        assert plain not in blob


async def test_rejection_leaves_the_record_and_is_audited(
    clean_db: Database, tenant: TenantInfo
) -> None:
    owner, person = await _person(clean_db, tenant)
    asked = await _ask(clean_db, tenant, owner, person, field="birth_date", value="1985-12-11")
    done = await corrections.decide(
        db=clean_db, actor=national(tenant), correction_id=asked.id, approve=False, note="no proof"
    )
    assert (done.status, done.decision_note, done.previous) == ("rejected", "no proof", None)
    row = await _load(clean_db, tenant, person)
    assert (row.birth_date, row.version) == (dt.date(1985, 12, 10), 1)
    assert (await audit_actions(clean_db, tenant, person))[-1] == "beneficiary.correction_rejected"
    assert await events(clean_db, tenant, "beneficiary.") == []
    with pytest.raises(Conflict):
        await corrections.decide(
            db=clean_db, actor=national(tenant), correction_id=asked.id, approve=True
        )


async def test_withdrawn_request_cannot_be_decided(clean_db: Database, tenant: TenantInfo) -> None:
    owner, person = await _person(clean_db, tenant)
    asked = await _ask(clean_db, tenant, owner, person)
    with pytest.raises(Conflict):  # one pending request per field
        await _ask(clean_db, tenant, owner, person, value="Augustina")
    done = await corrections.withdraw(db=clean_db, actor=owner, correction_id=asked.id)
    assert done.status == "withdrawn"
    assert (await audit_actions(clean_db, tenant, person))[-1] == (
        "beneficiary.correction_withdrawn"
    )
    with pytest.raises(Conflict):
        await corrections.decide(
            db=clean_db, actor=national(tenant), correction_id=asked.id, approve=True
        )
    again = await _ask(clean_db, tenant, owner, person, value="Augustina")
    assert again.status == "pending"


async def test_birth_date_correction_moves_the_birth_year(
    clean_db: Database, tenant: TenantInfo
) -> None:
    owner, person = await _person(clean_db, tenant)
    asked = await _ask(clean_db, tenant, owner, person, field="birth_date", value="1986-01-02")
    await corrections.decide(
        db=clean_db, actor=national(tenant), correction_id=asked.id, approve=True
    )
    row = await _load(clean_db, tenant, person)
    assert (row.birth_date, row.birth_year) == (dt.date(1986, 1, 2), 1986)


async def test_id_number_correction_replaces_the_document(
    clean_db: Database, tenant: TenantInfo
) -> None:
    owner, person = await _person(clean_db, tenant)
    new = national_id()
    asked = await _ask(
        clean_db, tenant, owner, person, field="id_number", value=new, id_type="national-id"
    )
    done = await corrections.decide(
        db=clean_db, actor=national(tenant), correction_id=asked.id, approve=True
    )
    assert done.previous is not None
    assert done.previous["id_type"] == "national-id"
    async with clean_db.read(tenant_id=tenant.id) as s:
        clause = await blind_match(
            s,
            BeneficiaryDocument.number_bidx,
            tenant_id=tenant.id,
            kind="id_number",
            value=new,
        )
        holders = (await s.execute(select(BeneficiaryDocument.beneficiary_id).where(clause))).all()
    assert [h[0] for h in holders] == [person]


async def test_an_id_number_held_by_another_record_is_filed_alike_and_refused_at_review(
    clean_db: Database, tenant: TenantInfo
) -> None:
    # Issue 12, finding 8: a 409 here told any citizen whether someone holds a number.
    taken = national_id()
    await add_person(clean_db, tenant, number=taken, given_name="Someone", family_name="Else")
    owner, person = await _person(clean_db, tenant)
    held = await _ask(
        clean_db, tenant, owner, person, field="id_number", value=taken, id_type="national-id"
    )
    other_owner, other = await _person(clean_db, tenant)
    fresh = await _ask(
        clean_db,
        tenant,
        other_owner,
        other,
        field="id_number",
        value=national_id(),
        id_type="national-id",
    )
    assert held.status == fresh.status == "pending"
    assert held.model_dump().keys() == fresh.model_dump().keys()
    approver = national(tenant)
    review = await correction_queue.get_for_review(
        db=clean_db, actor=approver, correction_id=held.id
    )
    assert review.held_elsewhere
    assert not (
        await correction_queue.get_for_review(db=clean_db, actor=approver, correction_id=fresh.id)
    ).held_elsewhere
    with pytest.raises(Conflict) as caught:
        await corrections.decide(db=clean_db, actor=approver, correction_id=held.id, approve=True)
    body = str(caught.value.to_dict())
    assert "Someone" not in body
    assert "Else" not in body
    assert caught.value.errors == [{"field": "value", "reason": "is already registered"}]
    rejected = await corrections.decide(
        db=clean_db, actor=approver, correction_id=held.id, approve=False, note="taken"
    )
    assert rejected.status == "rejected"


async def test_a_number_taken_after_the_request_fails_approval_cleanly(
    clean_db: Database, tenant: TenantInfo
) -> None:
    owner, person = await _person(clean_db, tenant)
    new = national_id()
    asked = await _ask(
        clean_db, tenant, owner, person, field="id_number", value=new, id_type="national-id"
    )
    await add_person(clean_db, tenant, number=new)
    with pytest.raises(Conflict):
        await corrections.decide(
            db=clean_db, actor=national(tenant), correction_id=asked.id, approve=True
        )
    history = await corrections.history(db=clean_db, actor=owner, beneficiary_id=person)
    assert history[0].status == "pending"  # nothing changed


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"field": "sex", "value": "male"}, "field"),
        ({"field": "birth_date", "value": "tomorrow"}, "value"),
        ({"field": "birth_date", "value": "2999-01-01"}, "value"),
        ({"field": "id_number", "value": "1234567890", "id_type": "national-id"}, "value"),
        ({"field": "id_number", "value": "1234567897"}, "id_type"),
        ({"field": "id_number", "value": "1234567897", "id_type": "no-such"}, "id_type"),
        ({"value": "Ada"}, "value"),
        ({"reason": "   "}, "reason"),
    ],
)
async def test_bad_requests_name_the_field(
    clean_db: Database, tenant: TenantInfo, changes: dict[str, str], field: str
) -> None:
    owner, person = await _person(clean_db, tenant)
    with pytest.raises(ValidationFailed) as caught:
        await _ask(clean_db, tenant, owner, person, **changes)
    assert caught.value.errors[0]["field"] == field


async def test_people_of_other_accounts_are_missing(clean_db: Database, tenant: TenantInfo) -> None:
    _, person = await _person(clean_db, tenant)
    stranger = citizen(tenant, await add_citizen(clean_db, tenant))
    with pytest.raises(NotFound):
        await _ask(clean_db, tenant, stranger, person)
    with pytest.raises(NotFound):
        await corrections.history(db=clean_db, actor=stranger, beneficiary_id=person)


async def test_only_approvers_of_the_persons_area_decide(
    clean_db: Database, tenant: TenantInfo
) -> None:
    owner, person = await _person(clean_db, tenant, region_code="CEN-01-01", facility_id=FACILITY)
    asked = await _ask(clean_db, tenant, owner, person)
    other_tenant = await load_tenant(clean_db)
    refused = [
        actor_for(tenant, "region_admin", region_code="NOR"),
        actor_for(tenant, "region_admin", region_code="CEN-02"),
        actor_for(tenant, "facility_manager", facility_id=uuid.uuid4()),
        actor_for(tenant, "vaccinator", facility_id=FACILITY),
        actor_for(tenant, "support"),
        actor_for(other_tenant, "national_admin"),
    ]
    for actor in refused:
        with pytest.raises(NotFound):
            await corrections.decide(db=clean_db, actor=actor, correction_id=asked.id, approve=True)
        with pytest.raises(NotFound):
            await correction_queue.get_for_review(db=clean_db, actor=actor, correction_id=asked.id)
    for actor in refused[:3]:
        page = await correction_queue.list_pending(db=clean_db, actor=actor)
        assert page.items == []
    with pytest.raises(Forbidden):
        await correction_queue.list_pending(db=clean_db, actor=owner)
    with pytest.raises(Forbidden):  # a citizen cannot approve their own request
        await corrections.decide(db=clean_db, actor=owner, correction_id=asked.id, approve=True)

    for allowed in (
        actor_for(tenant, "region_admin", region_code="CEN"),
        actor_for(tenant, "facility_manager", facility_id=FACILITY),
    ):
        page = await correction_queue.list_pending(db=clean_db, actor=allowed)
        assert [i.id for i in page.items] == [asked.id]
    done = await corrections.decide(
        db=clean_db,
        actor=actor_for(tenant, "facility_manager", facility_id=FACILITY),
        correction_id=asked.id,
        approve=True,
    )
    assert done.status == "approved"


async def test_the_queue_pages_with_a_cursor(clean_db: Database, tenant: TenantInfo) -> None:
    made = []
    for _ in range(3):
        owner, person = await _person(clean_db, tenant)
        made.append((await _ask(clean_db, tenant, owner, person)).id)
    first = await correction_queue.list_pending(db=clean_db, actor=national(tenant), limit=2)
    assert first.next_cursor is not None
    second = await correction_queue.list_pending(
        db=clean_db, actor=national(tenant), limit=2, cursor=first.next_cursor
    )
    assert [i.id for i in first.items + second.items] == made
    assert second.next_cursor is None
    with pytest.raises(ValidationFailed):
        await correction_queue.list_pending(db=clean_db, actor=national(tenant), cursor="x")


async def test_two_approvers_at_once_make_exactly_one_decision(
    clean_db: Database, tenant: TenantInfo
) -> None:
    owner, person = await _person(clean_db, tenant)
    asked = await _ask(clean_db, tenant, owner, person)
    approvers = [national(tenant), actor_for(tenant, "region_admin", region_code="CEN")]

    async def decide(actor: Actor, approve: bool) -> str:
        try:
            done = await corrections.decide(
                db=clean_db, actor=actor, correction_id=asked.id, approve=approve
            )
        except Conflict:
            return "conflict"
        return done.status

    outcomes = await asyncio.gather(decide(approvers[0], True), decide(approvers[1], False))
    assert outcomes.count("conflict") == 1, outcomes
    decided = next(o for o in outcomes if o != "conflict")
    row = await _load(clean_db, tenant, person)
    assert row.version == (2 if decided == "approved" else 1)
    actions = await audit_actions(clean_db, tenant, person)
    decisions = {"beneficiary.corrected", "beneficiary.correction_rejected"}
    assert sum(a in decisions for a in actions) == 1
