"""A citizen changing a person's phone or e-mail: proved by a code to the new destination.

Staff change contact details directly (they see the person). A citizen first asks for a
one-time code to the new phone or e-mail (``POST .../{beneficiary_id}/contact-codes``,
identity's ``contact_change`` codes, bound to the person), then sends the change with
``contact_code: {transaction_id, code}``. Removing a phone or e-mail needs no code.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from vaxport.core.contacts import normalise_email, normalise_phone
from vaxport.core.db import Database
from vaxport.core.errors import NotFound, ValidationFailed, field_error, invalid
from vaxport.core.i18n import N_
from vaxport.identity import service as identity
from vaxport.identity.service import Actor, authorize
from vaxport.registration.models import STATUS_ACTIVE, Beneficiary
from vaxport.registration.presenters import resource
from vaxport.registration.schemas import ContactCodeIn, ContactProof
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantInfo

WRITE = "beneficiaries:write"


def _context(beneficiary_id: uuid.UUID) -> str:
    return f"beneficiary:{beneficiary_id}"


async def request_contact_code(
    *,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    actor: Actor,
    beneficiary_id: uuid.UUID,
    body: ContactCodeIn,
    client_ip: str | None,
) -> uuid.UUID:
    """Send a ``contact_change`` code to the new phone or e-mail; the transaction id."""
    given = [f for f in ("phone", "email") if getattr(body, f) is not None]
    if len(given) != 1:
        raise ValidationFailed(
            N_("give the new phone or the new e-mail (one at a time)"),
            errors=[field_error("phone", N_("give exactly one of phone, email"))],
        )
    field = given[0]
    raw = str(getattr(body, field))
    value = (
        normalise_phone(raw, region=tenant.config.phone.default_region)
        if field == "phone"
        else normalise_email(raw)
    )
    async with db.read(tenant_id=tenant.id) as session:
        person = await session.scalar(
            select(Beneficiary).where(
                Beneficiary.tenant_id == tenant.id,
                Beneficiary.id == beneficiary_id,
                Beneficiary.status == STATUS_ACTIVE,
            )
        )
        if person is None:
            raise NotFound(N_("beneficiary not found"))
        authorize(actor, WRITE, resource(person), what="beneficiary")
        locale = person.preferred_locale
    return await identity.request_code(
        db=db,
        settings=settings,
        tenant=tenant,
        destination=value,
        purpose="contact_change",
        client_ip=client_ip,
        locale=locale,
        kind="phone" if field == "phone" else "email",
        context=_context(beneficiary_id),
        field=field,
    )


async def check_contact_proof(
    *,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    beneficiary_id: uuid.UUID,
    cols: dict[str, object],
    proof: ContactProof | None,
) -> None:
    """422 unless a new phone/e-mail in ``cols`` comes with a code proving it (citizens)."""
    changed = [f for f in ("phone", "email") if cols.get(f) is not None]
    if not changed:
        return
    if len(changed) > 1:
        raise invalid("email", N_("change one contact at a time: each needs its own code"))
    if proof is None:
        raise invalid(
            "contact_code",
            N_("is required: ask for a code to the new {contact} first"),
            contact=changed[0],
        )
    proven = await identity.verify_code(
        db=db,
        settings=settings,
        tenant=tenant,
        transaction_id=proof.transaction_id,
        code=proof.code,
        purpose="contact_change",
    )
    if proven.context != _context(beneficiary_id) or proven.value != cols[changed[0]]:
        raise invalid("contact_code", identity.BAD_OTP_CODE)
