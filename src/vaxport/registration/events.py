"""What the registration context offers the others, wired by ``wiring.py`` (no outbox
handlers yet).

Notifications owns no contact details: it asks this resolver for a registered person's
phone, e-mail and language when a message names them (``subject_id`` = beneficiary id),
in the caller's transaction, when it is queued and again when it is sent.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from vaxport.core.db import UnitOfWork
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
    return Contact(phone=person.phone, email=person.email, locale=person.preferred_locale)
