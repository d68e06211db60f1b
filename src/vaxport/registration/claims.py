"""Claiming a record registered without an account (walk-in, staff, import).

Design: when staff register a person with no account, a random 10-character claim code
(Crockford base32, about 50 bits) is made and printed on the person's slip with the
reference. It is stored only as an encrypted field with a blind index (keyed HMAC under
the tenant's index key, rebuilt by index-key rotation, shredded with the person), never
in clear. A logged-in citizen claims the record by giving one of its ID documents and
the code: the record must match both and have no account yet. On success it joins the
citizen's family (the family-size limit applies) and the code is cleared, so a slip
cannot be used twice.

A wrong code, an unknown ID number and a record already claimed all get the same
answer (404, same text), so the endpoint does not reveal who is registered. Guessing is
bounded by a per-account throttle (progressive delay, then a temporary lock) on top of
the code's entropy; each attempt is audited (success or failure, without values).
Or by the record's phone (:func:`request_claim_code`, :func:`claim_member` with a
``transaction_id``): the citizen gives the ID document; when an unclaimed record holds it
and has a phone, identity's ``claim`` one-time code goes to that phone, bound to the
record and the asking account. Otherwise (unknown ID, claimed already, no phone) the same
transaction row is made and counted against a decoy destination keyed by the document,
but nothing is sent: the answer (202 and a transaction id) and the send limits are the
same either way, and that code can never verify.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core import audit
from vaxport.core.crypto import blind_match
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import Forbidden, NotFound, TooManyRequests, ValidationFailed, field_error
from vaxport.core.i18n import N_
from vaxport.identity import service as identity
from vaxport.identity.service import Actor, mac
from vaxport.registration.models import STATUS_ACTIVE, Beneficiary, BeneficiaryDocument
from vaxport.registration.presenters import documents_of, member_out
from vaxport.registration.schemas import ClaimCodeIn, ClaimIn, MemberOut
from vaxport.registration.writes import ensure_room, normalise_code, record_change
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantInfo, validate_id_number

CLAIM_POLICY = identity.ThrottlePolicy(
    free=5, lock_at=20, max_delay_seconds=60, lock_seconds=3600, window_seconds=3600
)
NO_MATCH = N_("no unclaimed record matches this ID document and claim code")


def claim_key(settings: Settings, actor: Actor) -> identity.ThrottleKey:
    """The throttle key of one account's claim attempts."""
    digest = mac(settings, "throttle", actor.tenant_id.bytes + b"c\x00" + actor.account_id.bytes)
    return identity.ThrottleKey("c:" + digest.hex()[:40], CLAIM_POLICY)


def _claim_context(beneficiary_id: uuid.UUID, account_id: uuid.UUID) -> str:
    return f"claim:{beneficiary_id}:{account_id}"


def _citizen(actor: Actor) -> None:
    if actor.kind != "citizen":
        raise Forbidden(N_("records are claimed by citizen accounts"))


async def _throttle(
    db: Database, settings: Settings, tenant: TenantInfo, actor: Actor
) -> identity.ThrottleKey:
    key = claim_key(settings, actor)
    try:
        await identity.throttle_attempt(db, tenant_id=tenant.id, keys=[key])
    except identity.Throttled as exc:
        seconds = max(1, int(exc.retry_after + 0.999))
        raise TooManyRequests(
            N_("too many claim attempts: try again later"), headers={"Retry-After": str(seconds)}
        ) from None
    return key


async def _holding(
    s: AsyncSession, tenant_id: uuid.UUID, id_type: str, number: str
) -> Select[uuid.UUID]:
    by_number = await blind_match(
        s, BeneficiaryDocument.number_bidx, tenant_id=tenant_id, kind="id_number", value=number
    )
    return select(BeneficiaryDocument.beneficiary_id).where(
        BeneficiaryDocument.tenant_id == tenant_id,
        BeneficiaryDocument.id_type == id_type,
        by_number,
    )


def _unclaimed(tenant_id: uuid.UUID) -> Select[Beneficiary]:
    return select(Beneficiary).where(
        Beneficiary.tenant_id == tenant_id,
        Beneficiary.account_id.is_(None),
        Beneficiary.status == STATUS_ACTIVE,
    )


async def _attach(
    uow: UnitOfWork, tenant: TenantInfo, actor: Actor, person: Beneficiary, via: str
) -> MemberOut:
    """The found record joins the citizen's family (limit applies); audit and event."""
    limit = tenant.config.family.max_beneficiaries_per_account
    await ensure_room(uow, tenant.id, actor.account_id, limit)
    person.account_id = actor.account_id
    person.claim_code = None
    await record_change(
        uow,
        person,
        acting=actor.principal,
        action="beneficiary.claim",
        fields=["account"],
        details={"via": via},
    )
    docs = await documents_of(uow.session, tenant.id, [person.id])
    return member_out(person, docs[person.id])


async def _failed(db: Database, tenant: TenantInfo, actor: Actor, via: str) -> None:
    """A claim that found nothing the caller may learn of (no object id), on its own."""
    await audit.record_standalone(
        db,
        tenant_id=tenant.id,
        by=actor.principal,
        action="beneficiary.claim",
        object_type="beneficiary",
        object_id=None,
        outcome="failure",
        details={"via": via},
    )


async def request_claim_code(
    *,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    actor: Actor,
    body: ClaimCodeIn,
    client_ip: str | None,
) -> uuid.UUID:
    """Send a ``claim`` code to the phone of the unclaimed record holding this document.

    The same answer (a transaction id) whether or not such a record with a phone exists;
    only then is a message queued (see the module's docstring). Every request is audited
    alike (no record id: that would tell the auditor's reader nothing the caller may not
    know, and keeps both paths the same work).
    """
    _citizen(actor)
    number = validate_id_number(
        config=tenant.config, id_type=body.id_type, value=body.number, field="number"
    )
    phone: str | None = None
    async with db.read(tenant_id=tenant.id) as s:
        holder = await _holding(s, tenant.id, body.id_type, number)
        person = await s.scalar(_unclaimed(tenant.id).where(Beneficiary.id.in_(holder)))
        if person is not None and person.phone:
            phone, person_id, locale = person.phone, person.id, person.preferred_locale
    if phone is not None:
        dest = identity.Destination("phone", phone)
        context: str | None = _claim_context(person_id, actor.account_id)
    else:
        label = mac(
            settings, "claim-decoy", tenant.id.bytes + f"{body.id_type}\x00{number}".encode()
        )
        dest, context, locale = identity.decoy_destination(label.hex()[:32]), None, None
    await audit.record_standalone(
        db,
        tenant_id=tenant.id,
        by=actor.principal,
        action="beneficiary.claim_code",
        object_type="beneficiary",
        object_id=None,
        details={"via": "phone"},
    )
    return await identity.open_code_transaction(
        db=db,
        settings=settings,
        tenant=tenant,
        dest=dest,
        purpose="claim",
        locale=locale,
        context=context,
        deliver=phone is not None,
    )


def _shape(body: ClaimIn) -> str:
    by_slip = body.id_type is not None and body.number is not None
    if by_slip == (body.transaction_id is not None) or (
        body.transaction_id is not None and (body.id_type or body.number)
    ):
        raise ValidationFailed(
            N_("give id_type + number + code (the slip) or transaction_id + code (a phone code)"),
            errors=[field_error("body", N_("give id_type+number+code or transaction_id+code"))],
        )
    return "slip" if by_slip else "phone"


async def claim_member(
    *, db: Database, settings: Settings, tenant: TenantInfo, actor: Actor, body: ClaimIn
) -> MemberOut:
    """Attach an account-less record to the citizen's account (slip code or phone code)."""
    _citizen(actor)
    if _shape(body) == "phone":
        return await _claim_by_phone(
            db=db, settings=settings, tenant=tenant, actor=actor, body=body
        )
    assert body.id_type is not None
    assert body.number is not None
    number = validate_id_number(
        config=tenant.config, id_type=body.id_type, value=body.number, field="number"
    )
    key = await _throttle(db, settings, tenant, actor)
    out: MemberOut | None = None
    async with db.transaction(tenant_id=tenant.id) as uow:
        s = uow.session
        holder = await _holding(s, tenant.id, body.id_type, number)
        by_code = await blind_match(
            s,
            Beneficiary.claim_code_bidx,
            tenant_id=tenant.id,
            kind="text",
            value=normalise_code(body.code),
        )
        person = await s.scalar(
            _unclaimed(tenant.id).where(Beneficiary.id.in_(holder), by_code).with_for_update()
        )
        if person is not None:
            out = await _attach(uow, tenant, actor, person, "slip")
    if out is None:
        await _failed(db, tenant, actor, "slip")
        raise NotFound(NO_MATCH)
    await identity.throttle_succeeded(db, tenant_id=tenant.id, user=key, address=key)
    return out


async def _claim_by_phone(
    *, db: Database, settings: Settings, tenant: TenantInfo, actor: Actor, body: ClaimIn
) -> MemberOut:
    """Verify the phone code; its bound record (still unclaimed) joins the family."""
    assert body.transaction_id is not None
    key = await _throttle(db, settings, tenant, actor)
    try:
        proven = await identity.verify_code(
            db=db,
            settings=settings,
            tenant=tenant,
            transaction_id=body.transaction_id,
            code=body.code,
            purpose="claim",
        )
    except ValidationFailed:
        await _failed(db, tenant, actor, "phone")
        raise
    out: MemberOut | None = None
    parts = (proven.context or "").split(":")
    if len(parts) == 3 and parts[0] == "claim" and parts[2] == str(actor.account_id):
        async with db.transaction(tenant_id=tenant.id) as uow:
            person = await uow.session.scalar(
                _unclaimed(tenant.id).where(Beneficiary.id == uuid.UUID(parts[1])).with_for_update()
            )
            if person is not None:
                out = await _attach(uow, tenant, actor, person, "phone")
    if out is None:
        await _failed(db, tenant, actor, "phone")
        raise NotFound(NO_MATCH)
    await identity.throttle_succeeded(db, tenant_id=tenant.id, user=key, address=key)
    return out
