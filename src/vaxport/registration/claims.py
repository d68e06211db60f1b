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
A claim by a code sent to the record's phone can be added once the identity context
offers ``claim`` one-time codes; people without a phone rely on the slip.
"""

from __future__ import annotations

from sqlalchemy import select

from vaxport.core import audit
from vaxport.core.crypto import blind_match
from vaxport.core.db import Database
from vaxport.core.errors import Forbidden, NotFound, TooManyRequests
from vaxport.identity import throttle
from vaxport.identity.actor import Actor
from vaxport.identity.secrets import mac
from vaxport.registration.models import STATUS_ACTIVE, Beneficiary, BeneficiaryDocument
from vaxport.registration.rows import Acting, ensure_room, normalise_code, record_change
from vaxport.registration.schemas import ClaimIn, MemberOut
from vaxport.registration.views import documents_of, member_out
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo
from vaxport.tenancy.service import validate_id_number

CLAIM_POLICY = throttle.Policy(
    free=5, lock_at=20, max_delay_seconds=60, lock_seconds=3600, window_seconds=3600
)
NO_MATCH = "no unclaimed record matches this ID document and claim code"


def claim_key(settings: Settings, actor: Actor) -> throttle.Key:
    """The throttle key of one account's claim attempts."""
    digest = mac(settings, "throttle", actor.tenant_id.bytes + b"c\x00" + actor.account_id.bytes)
    return throttle.Key("c:" + digest.hex()[:40], CLAIM_POLICY)


async def claim_member(
    *, db: Database, settings: Settings, tenant: TenantInfo, actor: Actor, body: ClaimIn
) -> MemberOut:
    """Attach an account-less record to the citizen's account (ID document + claim code)."""
    if actor.kind != "citizen":
        raise Forbidden("records are claimed by citizen accounts")
    number = validate_id_number(
        config=tenant.config, id_type=body.id_type, value=body.number, field="number"
    )
    key = claim_key(settings, actor)
    try:
        await throttle.attempt(db, tenant_id=tenant.id, keys=[key])
    except throttle.Throttled as exc:
        seconds = max(1, int(exc.retry_after + 0.999))
        raise TooManyRequests(
            "too many claim attempts: try again later", headers={"Retry-After": str(seconds)}
        ) from None
    async with db.transaction(tenant_id=tenant.id) as uow:
        s = uow.session
        by_number = await blind_match(
            s, BeneficiaryDocument.number_bidx, tenant_id=tenant.id, kind="id_number", value=number
        )
        by_code = await blind_match(
            s,
            Beneficiary.claim_code_bidx,
            tenant_id=tenant.id,
            kind="text",
            value=normalise_code(body.code),
        )
        holder = select(BeneficiaryDocument.beneficiary_id).where(
            BeneficiaryDocument.tenant_id == tenant.id,
            BeneficiaryDocument.id_type == body.id_type,
            by_number,
        )
        person = await s.scalar(
            select(Beneficiary)
            .where(
                Beneficiary.tenant_id == tenant.id,
                Beneficiary.id.in_(holder),
                by_code,
                Beneficiary.account_id.is_(None),
                Beneficiary.status == STATUS_ACTIVE,
            )
            .with_for_update()
        )
        if person is not None:
            limit = tenant.config.family.max_beneficiaries_per_account
            await ensure_room(uow, tenant.id, actor.account_id, limit)
            person.account_id = actor.account_id
            person.claim_code = None
            await record_change(
                uow,
                person,
                acting=Acting(actor.account_id, actor.role),
                action="beneficiary.claim",
                fields=["account"],
            )
            docs = await documents_of(s, tenant.id, [person.id])
            out = member_out(person, docs[person.id])
    if person is None:
        await audit.record_standalone(
            db,
            actor_id=actor.account_id,
            actor_role=actor.role,
            action="beneficiary.claim",
            object_type="beneficiary",
            object_id=None,
            outcome="failure",
            tenant_id=tenant.id,
        )
        raise NotFound(NO_MATCH)
    await throttle.succeeded(db, tenant_id=tenant.id, user=key, address=key)
    return out
