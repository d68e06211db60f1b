"""What other contexts may learn of a citizen account: how to reach its holder.

Registration reaches a family member who has no phone or e-mail of their own through
the account that manages their record (a child's appointment reminder goes to the
parent). Only an active citizen account answers, and not while it is held after a
recovery to a new phone: whoever just took the account over must not learn where and
when the family's children are expected.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from vaxport.core.clock import utcnow
from vaxport.core.db import UnitOfWork
from vaxport.identity.models import STATUS_ACTIVE, Account


@dataclass(frozen=True, slots=True)
class HolderContact:
    """A citizen account's phone and e-mail (personal data: never logged)."""

    phone: str | None
    email: str | None

    def __repr__(self) -> str:
        return (
            f"HolderContact(phone={'<set>' if self.phone else None}, "
            f"email={'<set>' if self.email else None})"
        )


async def holder_contact(
    uow: UnitOfWork, *, tenant_id: uuid.UUID, account_id: uuid.UUID
) -> HolderContact | None:
    """The contact of citizen account ``account_id``, in the caller's transaction; None
    when there is no such active account or it is held after a recovery."""
    account = await uow.session.scalar(
        select(Account).where(
            Account.tenant_id == tenant_id,
            Account.id == account_id,
            Account.kind == "citizen",
        )
    )
    if account is None or account.status != STATUS_ACTIVE:
        return None
    held = account.recovery_hold_until
    if held is not None and held > utcnow():
        return None
    return HolderContact(phone=account.phone, email=account.email)
