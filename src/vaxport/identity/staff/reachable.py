"""How other contexts reach staff: an active member's contact, and a region's admins.

The notifications context owns no contact details: the composition root adapts
:func:`staff_contact` into one of its contact resolvers, so a message addressed to a
staff account's id finds that account's e-mail or phone. :func:`admins_over` names who
answers for a region (a serious adverse event, a flagged lot): the region admins whose
subtree holds it, or the national admins when no region admin does.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from vaxport.core.db import UnitOfWork
from vaxport.identity.access.policy import NATIONAL_ADMIN, REGION_ADMIN
from vaxport.identity.holders import HolderContact
from vaxport.identity.models import STATUS_ACTIVE, Account
from vaxport.tenancy.service import TenantInfo


async def staff_contact(
    uow: UnitOfWork, *, tenant_id: uuid.UUID, account_id: uuid.UUID
) -> HolderContact | None:
    """The e-mail and phone of active staff account ``account_id``; None otherwise."""
    account = await uow.session.scalar(
        select(Account).where(
            Account.tenant_id == tenant_id,
            Account.id == account_id,
            Account.kind == "staff",
            Account.status == STATUS_ACTIVE,
        )
    )
    if account is None:
        return None
    return HolderContact(phone=account.phone, email=account.email)


def _ancestors(tenant: TenantInfo, region_code: str) -> list[str]:
    node = tenant.config.region_index.get(region_code)
    return [c for c in node.path.split("/") if c] if node is not None else []


async def admins_over(uow: UnitOfWork, *, tenant: TenantInfo, region_code: str) -> list[uuid.UUID]:
    """The active region admins whose region holds ``region_code`` (its ancestors
    included); the national admins when there are none. Ids only, in a stable order."""
    regional = await uow.session.scalars(
        select(Account.id)
        .where(
            Account.tenant_id == tenant.id,
            Account.kind == "staff",
            Account.status == STATUS_ACTIVE,
            Account.role == REGION_ADMIN,
            Account.region_code.in_(_ancestors(tenant, region_code) or [region_code]),
        )
        .order_by(Account.id)
    )
    found = list(regional)
    if found:
        return found
    national = await uow.session.scalars(
        select(Account.id)
        .where(
            Account.tenant_id == tenant.id,
            Account.kind == "staff",
            Account.status == STATUS_ACTIVE,
            Account.role == NATIONAL_ADMIN,
        )
        .order_by(Account.id)
    )
    return list(national)
