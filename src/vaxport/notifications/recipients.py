"""Who a message goes to: raw destinations, and people found through contact resolvers.

The notifications context owns no contact details. A use case either gives a destination
(a login code to the number just typed) or a person's id (an account or a beneficiary);
for the latter, the composition root installs at start-up (never on import) the
:data:`ContactResolver` of each context that owns people, asked in the caller's
transaction when the message is queued and again when it is sent (so a number changed in
between is honoured, and a number given up is not texted).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from vaxport.core.contacts import normalise_email, normalise_phone
from vaxport.core.db import UnitOfWork
from vaxport.core.errors import ValidationFailed

Kind = Literal["sms", "email"]
KINDS: tuple[Kind, ...] = ("sms", "email")


@dataclass(frozen=True, slots=True)
class Contact:
    """A person's contact details as their owning context knows them."""

    phone: str | None = None
    email: str | None = None
    locale: str | None = None

    def __repr__(self) -> str:  # personal data: never in logs or tracebacks
        return (
            f"Contact(phone={'<set>' if self.phone else None}, "
            f"email={'<set>' if self.email else None}, locale={self.locale!r})"
        )

    def for_kind(self, kind: Kind) -> str | None:
        return self.phone if kind == "sms" else self.email


# (unit of work, tenant id, subject id) -> the person's contact, or None if unknown here.
ContactResolver = Callable[[UnitOfWork, uuid.UUID, uuid.UUID], Awaitable[Contact | None]]
_resolvers: tuple[ContactResolver, ...] = ()


def install_contact_resolvers(resolvers: Sequence[ContactResolver]) -> None:
    """Ask ``resolvers``, in order, for subjects' contacts (the composition root)."""
    global _resolvers  # noqa: PLW0603 - one slot, filled by the composition root
    _resolvers = tuple(resolvers)


def has_contact_resolvers() -> bool:
    """Whether any resolver is installed (so subjects' contacts can be refreshed)."""
    return bool(_resolvers)


async def resolve_contact(
    uow: UnitOfWork, *, tenant_id: uuid.UUID, subject_id: uuid.UUID
) -> Contact | None:
    """The first installed resolver's answer for ``subject_id``; LookupError if none."""
    if not _resolvers:
        raise LookupError(
            "no contact resolver is installed: messages to a person need the resolver of "
            "the context that owns them in the composition root (wiring.py)"
        )
    for resolver in _resolvers:
        found = await resolver(uow, tenant_id, subject_id)
        if found is not None:
            return found
    return None


def infer_kind(destination: str) -> Kind:
    """E-mail when it looks like an address, else SMS."""
    return "email" if "@" in destination else "sms"


def normalise(destination: str, kind: Kind, *, region: str | None, field: str = "to") -> str:
    """E.164 for SMS (national forms in the tenant's region), a checked address for
    e-mail; ValidationFailed naming ``field`` otherwise (the value is never repeated)."""
    if kind == "sms":
        return normalise_phone(destination, region=region, field=field)
    return normalise_email(destination, field=field)


def normalise_or_none(destination: str | None, kind: Kind, *, region: str | None) -> str | None:
    """Like :func:`normalise` for stored contact details: unusable ones count as absent."""
    if not destination:
        return None
    try:
        return normalise(destination, kind, region=region)
    except ValidationFailed:
        return None


def choose_kind(contact: Contact, *, requested: Kind | None, preferred: str | None) -> Kind:
    """The kind to use for a person: the caller's, else their preference if reachable
    that way, else SMS when they have a phone, else e-mail."""
    if requested is not None:
        return requested
    if preferred == "sms" and contact.phone:
        return "sms"
    if preferred == "email" and contact.email:
        return "email"
    return "sms" if contact.phone else "email"
