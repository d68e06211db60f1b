"""Registering people: a citizen's family member, a staff registration, a walk-in.

Citizens register into their own account, up to ``family.max_beneficiaries_per_account``
active people; the count is taken under a per-account lock (see ``writes.lock_account``) so
parallel requests cannot overshoot it. Staff register people in their jurisdiction with
no account; a walk-in is registered by staff at a centre (``facility_id`` set). Records
without an account get a one-time claim code, printed on the slip, with which the
person can later attach the record to a citizen account (``claims.py``).
"""

from __future__ import annotations

import uuid

import orjson
from sqlalchemy.exc import IntegrityError

from vaxport.core.crypto import KeySession
from vaxport.core.db import Database, Rows, UnitOfWork
from vaxport.core.errors import Forbidden, field_error, invalid
from vaxport.core.i18n import N_
from vaxport.core.idempotency import Claim, Keep
from vaxport.facilities import service as facilities
from vaxport.identity.service import Actor, Resource, can
from vaxport.registration.intake import Added, NewMember, add_members
from vaxport.registration.presenters import registered_out
from vaxport.registration.schemas import CreatedMemberOut, MemberIn, WalkInIn
from vaxport.registration.validation import NormalisedMember, validate_member
from vaxport.registration.writes import (
    FamilyFull,
    ReferenceTakenError,
    ensure_room,
    new_claim_code,
)
from vaxport.tenancy.service import TenantInfo

__all__ = [
    "FamilyFull",
    "add_walk_ins",
    "check_walk_in",
    "kept_answer",
    "register_member",
    "register_walk_in",
]

CREATE_ATTEMPTS = 3
WRITE = "beneficiaries:write"

OUTSIDE_AREA = N_("is outside the area you work in: choose one in it")
NOT_YOUR_CENTRE = N_("is not your centre: register walk-ins at your own centre")


async def register_member(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    body: MemberIn,
    keep: Keep[CreatedMemberOut] | None = None,
) -> CreatedMemberOut:
    """A citizen adds a family member to their account; staff register someone in reach.

    Staff registrations have no account and come back with a ``claim_code``. ``keep``:
    the request's Idempotency-Key and its answer, kept in the registration's transaction.
    """
    member = validate_member(body, config=tenant.config)
    if actor.kind == "citizen":
        return await _create(
            db,
            tenant,
            member,
            account_id=actor.account_id,
            facility_id=None,
            via="self",
            actor=actor,
            keep=keep,
        )
    facility_id = actor.facility_id
    target = Resource(tenant.id, region_code=member.region_code, facility_id=facility_id)
    if not can(actor, WRITE, target):
        raise Forbidden(
            N_("you cannot register a person outside your jurisdiction"),
            errors=[field_error("region_code", OUTSIDE_AREA)],
        )
    return await _create(
        db,
        tenant,
        member,
        account_id=None,
        facility_id=facility_id,
        via="staff",
        actor=actor,
        keep=keep,
    )


async def register_walk_in(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    body: WalkInIn,
    keep: Keep[CreatedMemberOut] | None = None,
) -> CreatedMemberOut:
    """Staff at a centre register a person who has no account (and maybe no phone).

    The centre is the actor's own facility; staff of a region (or national) name one in
    their jurisdiction with ``facility_id``.
    """
    if actor.kind == "citizen":
        raise Forbidden(N_("walk-ins are registered by staff at a vaccination centre"))
    member = validate_member(body, config=tenant.config)
    facility_id = await _walk_in_facility(db, tenant, actor, body.facility_id)
    return await _create(
        db,
        tenant,
        member,
        account_id=None,
        facility_id=facility_id,
        via="walk_in",
        actor=actor,
        keep=keep,
    )


async def check_walk_in(
    *, db: Database, tenant: TenantInfo, actor: Actor, body: WalkInIn, person_id: uuid.UUID
) -> NewMember:
    """A walk-in recorded elsewhere (an offline device) checked as :func:`register_walk_in`
    checks one, to add with :func:`add_walk_ins`; raises the same refusals. Its id is
    ``person_id`` (the device's UUID for the record) and it gets no claim code: the
    person asks for one later (``request_claim_code``)."""
    if actor.kind == "citizen":
        raise Forbidden(N_("walk-ins are registered by staff at a vaccination centre"))
    member = validate_member(body, config=tenant.config)
    facility_id = await _walk_in_facility(db, tenant, actor, body.facility_id)
    # The sync route's permission is the dose's: registering needs this context's own
    # (a centre's staff; staff of a region were checked on the centre just now).
    where = Resource(tenant.id, region_code=member.region_code, facility_id=facility_id)
    if actor.facility_id is not None and not can(actor, WRITE, where):
        raise Forbidden(N_("you cannot register walk-ins"))
    return NewMember(member, None, facility_id, None, person_id=person_id)


async def add_walk_ins(
    uow: UnitOfWork,
    *,
    tenant: TenantInfo,
    actor: Actor,
    walk_ins: list[NewMember],
    details: dict[str, object] | None = None,
) -> None:
    """Register checked walk-ins (:func:`check_walk_in`) together in ``uow``, in a
    savepoint: on :class:`AlreadyRegistered` (a document registered already) or another
    integrity error (an id taken) nothing of them is written and the error is raised,
    for the caller to add them one by one. ``details`` go in each audit entry."""
    for attempt in range(CREATE_ATTEMPTS):
        try:
            async with uow.savepoint():
                await add_members(
                    uow,
                    walk_ins,
                    acting=actor.principal,
                    tenant_id=tenant.id,
                    tenant_code=tenant.code,
                    created_via="walk_in",
                    details=details,
                )
            return
        except ReferenceTakenError:
            if attempt == CREATE_ATTEMPTS - 1:
                raise


async def _walk_in_facility(
    db: Database, tenant: TenantInfo, actor: Actor, requested: uuid.UUID | None
) -> uuid.UUID:
    if actor.facility_id is not None:
        if requested is not None and requested != actor.facility_id:
            raise Forbidden(
                N_("you register walk-ins at your own centre"),
                errors=[
                    field_error(
                        "facility_id",
                        NOT_YOUR_CENTRE,
                    )
                ],
            )
        return actor.facility_id
    if requested is None:
        raise invalid("facility_id", N_("is required: choose the centre where the person is"))
    region = await facilities.facility_region(db=db, tenant_id=tenant.id, facility_id=requested)
    if region is None or not can(
        actor, WRITE, Resource(tenant.id, region_code=region, facility_id=requested)
    ):
        raise invalid("facility_id", facilities.UNKNOWN_CENTRE)
    return requested


def kept_answer(
    claim: Claim | None, location: str, shape: type[CreatedMemberOut]
) -> Keep[CreatedMemberOut] | None:
    """The request's Idempotency-Key kept with the registration: the answer as the route
    sends it (``shape``, ``Location`` = ``location`` + the id), without the claim code
    (a retry gets ``claim_code: null``: the slip is printed from the first answer)."""
    if claim is None:
        return None

    def render(session: KeySession, created: CreatedMemberOut) -> Rows:
        body = shape.model_validate(created.model_dump()).model_dump(mode="json")
        body["claim_code"] = None
        return claim.answer(
            session,
            status=201,
            body=orjson.dumps(body),
            headers=[["location", f"{location}{created.id}"]],
            subject_id=created.id,
            withheld=("claim_code",),
        )

    return Keep(claim, render)


async def _create(
    db: Database,
    tenant: TenantInfo,
    member: NormalisedMember,
    *,
    account_id: uuid.UUID | None,
    facility_id: uuid.UUID | None,
    via: str,
    actor: Actor,
    keep: Keep[CreatedMemberOut] | None,
) -> CreatedMemberOut:
    limit = tenant.config.family.max_beneficiaries_per_account
    for attempt in range(CREATE_ATTEMPTS):
        claim_code = new_claim_code() if account_id is None else None
        answers: list[CreatedMemberOut] = []

        def answer(
            s: KeySession,
            added: list[Added],
            claim_code: str | None = claim_code,
            answers: list[CreatedMemberOut] = answers,
        ) -> list[Rows]:
            [one] = added
            out = registered_out(one.person, one.documents, claim_code)
            answers.append(out)
            return [keep.render(s, out)] if keep is not None else []

        try:
            async with db.transaction(tenant_id=tenant.id) as uow:
                if account_id is not None:
                    await ensure_room(uow, tenant.id, account_id, limit)
                await add_members(
                    uow,
                    [NewMember(member, account_id, facility_id, claim_code)],
                    acting=actor.principal,
                    tenant_id=tenant.id,
                    tenant_code=tenant.code,
                    created_via=via,
                    also=answer,
                )
                if keep is not None:
                    keep.claim.kept_with(uow)
            return answers[0]
        except ReferenceTakenError:
            if attempt == CREATE_ATTEMPTS - 1:
                raise
        except IntegrityError as exc:
            taken = keep.claim.refused(exc) if keep is not None else None
            if taken is None:
                raise
            raise taken from None
    raise AssertionError("unreachable")  # pragma: no cover
