"""What the registration context offers the others, wired by ``wiring.py`` (no outbox
handlers yet).

Notifications owns no contact details: it asks this resolver for a registered person's
phone, e-mail and language when a message names them (``subject_id`` = beneficiary id),
in the caller's transaction, when it is queued and again when it is sent.

A family member with neither phone nor e-mail of their own (a child, an elderly parent)
is reached through the citizen account that manages their record: the holder's phone
and e-mail, in the member's own language. A member with a contact of their own is only
ever written to there.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from vaxport.core.db import UnitOfWork
from vaxport.identity import service as identity
from vaxport.notifications.service import Contact
from vaxport.registration.models import Beneficiary


async def beneficiary_contact(
    uow: UnitOfWork, tenant_id: uuid.UUID, subject_id: uuid.UUID
) -> Contact | None:
    """The contact of the person ``subject_id`` (None when no such person exists here)."""
    person = await uow.session.scalar(
        select(Beneficiary).where(Beneficiary.tenant_id == tenant_id, Beneficiary.id == subject_id)
    )
    if person is None:
        return None
    if person.phone or person.email or person.account_id is None:
        return Contact(phone=person.phone, email=person.email, locale=person.preferred_locale)
    holder = await identity.holder_contact(uow, tenant_id=tenant_id, account_id=person.account_id)
    if holder is None:
        return Contact(locale=person.preferred_locale)
    return Contact(phone=holder.phone, email=holder.email, locale=person.preferred_locale)
