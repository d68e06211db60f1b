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

from vaxport.core.db import Database
from vaxport.core.errors import Forbidden, field_error, invalid
from vaxport.core.i18n import N_
from vaxport.facilities import service as facilities
from vaxport.identity.service import Actor, Resource, can
from vaxport.registration.intake import NewMember, add_members
from vaxport.registration.presenters import member_out
from vaxport.registration.schemas import CreatedMemberOut, MemberIn, WalkInIn
from vaxport.registration.validation import NormalisedMember, validate_member
from vaxport.registration.writes import (
    FamilyFull,
    ReferenceTakenError,
    ensure_room,
    new_claim_code,
)
from vaxport.tenancy.service import TenantInfo

__all__ = ["FamilyFull", "register_member", "register_walk_in"]

CREATE_ATTEMPTS = 3
WRITE = "beneficiaries:write"

OUTSIDE_AREA = N_("is outside the area you work in: choose one in it")
NOT_YOUR_CENTRE = N_("is not your centre: register walk-ins at your own centre")


async def register_member(
    *, db: Database, tenant: TenantInfo, actor: Actor, body: MemberIn
) -> CreatedMemberOut:
    """A citizen adds a family member to their account; staff register someone in reach.

    Staff registrations have no account and come back with a ``claim_code``.
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
        )
    facility_id = actor.facility_id
    target = Resource(tenant.id, region_code=member.region_code, facility_id=facility_id)
    if not can(actor, WRITE, target):
        raise Forbidden(
            "you cannot register a person outside your jurisdiction",
            errors=[field_error("region_code", OUTSIDE_AREA)],
        )
    return await _create(
        db, tenant, member, account_id=None, facility_id=facility_id, via="staff", actor=actor
    )


async def register_walk_in(
    *, db: Database, tenant: TenantInfo, actor: Actor, body: WalkInIn
) -> CreatedMemberOut:
    """Staff at a centre register a person who has no account (and maybe no phone).

    The centre is the actor's own facility; staff of a region (or national) name one in
    their jurisdiction with ``facility_id``.
    """
    if actor.kind == "citizen":
        raise Forbidden("walk-ins are registered by staff at a vaccination centre")
    member = validate_member(body, config=tenant.config)
    facility_id = await _walk_in_facility(db, tenant, actor, body.facility_id)
    return await _create(
        db, tenant, member, account_id=None, facility_id=facility_id, via="walk_in", actor=actor
    )


async def _walk_in_facility(
    db: Database, tenant: TenantInfo, actor: Actor, requested: uuid.UUID | None
) -> uuid.UUID:
    if actor.facility_id is not None:
        if requested is not None and requested != actor.facility_id:
            raise Forbidden(
                "you register walk-ins at your own centre",
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


async def _create(
    db: Database,
    tenant: TenantInfo,
    member: NormalisedMember,
    *,
    account_id: uuid.UUID | None,
    facility_id: uuid.UUID | None,
    via: str,
    actor: Actor,
) -> CreatedMemberOut:
    limit = tenant.config.family.max_beneficiaries_per_account
    for attempt in range(CREATE_ATTEMPTS):
        try:
            async with db.transaction(tenant_id=tenant.id) as uow:
                if account_id is not None:
                    await ensure_room(uow, tenant.id, account_id, limit)
                claim_code = new_claim_code() if account_id is None else None
                [added] = await add_members(
                    uow,
                    [NewMember(member, account_id, facility_id, claim_code)],
                    acting=actor.principal,
                    tenant_id=tenant.id,
                    tenant_code=tenant.code,
                    created_via=via,
                )
                out = member_out(added.person, added.documents)
            return CreatedMemberOut(**out.model_dump(), claim_code=claim_code)
        except ReferenceTakenError:
            if attempt == CREATE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
