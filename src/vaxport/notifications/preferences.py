"""Each person's notification preferences: preferred kind, opt-out of non-essential messages.

Routes declare ``notifications:preferences:read`` / ``:write``; these use cases check
the object half with the identity policy: a citizen reaches only their own preferences,
support staff those of the people of their tenant (a person has no place here, so staff
limited to a region do not reach them: fail closed). Changes are audited.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core import audit
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.errors import invalid
from vaxport.core.i18n import N_
from vaxport.core.ids import uuid7
from vaxport.core.principal import SYSTEM
from vaxport.identity.service import Actor, Resource, authorize
from vaxport.notifications.models import NotificationPreference
from vaxport.notifications.recipients import KINDS


@dataclass(frozen=True, slots=True)
class Preferences:
    """A person's preferences (the defaults when they never set any)."""

    subject_id: uuid.UUID
    preferred_kind: str | None = None
    opt_out_non_essential: bool = False
    updated_at: dt.datetime | None = None


async def read_preferences(
    session: AsyncSession, *, tenant_id: uuid.UUID, subject_id: uuid.UUID
) -> Preferences:
    """The preferences of ``subject_id``, read in the caller's transaction."""
    row = (
        await session.execute(
            select(
                NotificationPreference.preferred_kind,
                NotificationPreference.opt_out_non_essential,
                NotificationPreference.updated_at,
            ).where(
                NotificationPreference.tenant_id == tenant_id,
                NotificationPreference.subject_id == subject_id,
            )
        )
    ).one_or_none()
    if row is None:
        return Preferences(subject_id=subject_id)
    return Preferences(
        subject_id=subject_id,
        preferred_kind=row.preferred_kind,
        opt_out_non_essential=row.opt_out_non_essential,
        updated_at=row.updated_at,
    )


async def get_preferences(
    *, db: Database, tenant_id: uuid.UUID, subject_id: uuid.UUID, actor: Actor | None = None
) -> Preferences:
    """A person's preferences (defaults if never set); NotFound if ``actor`` may not."""
    if actor is not None:
        authorize(
            actor,
            "notifications:preferences:read",
            Resource(tenant_id, owner_id=subject_id),
            what="person",
        )
    async with db.read(tenant_id=tenant_id) as session:
        return await read_preferences(session, tenant_id=tenant_id, subject_id=subject_id)


async def update_preferences(
    *,
    db: Database,
    tenant_id: uuid.UUID,
    subject_id: uuid.UUID,
    preferred_kind: str | None,
    opt_out_non_essential: bool,
    actor: Actor | None,
) -> Preferences:
    """Replace a person's preferences; audited (``actor`` None: a trusted internal caller)."""
    if actor is not None:
        authorize(
            actor,
            "notifications:preferences:write",
            Resource(tenant_id, owner_id=subject_id),
            what="person",
        )
    if preferred_kind is not None and preferred_kind not in KINDS:
        raise invalid("preferred_kind", N_("must be 'sms', 'email' or null"))
    now = utcnow()
    values = {
        "preferred_kind": preferred_kind,
        "opt_out_non_essential": opt_out_non_essential,
        "updated_at": now,
    }
    async with db.transaction(tenant_id=tenant_id) as uow:
        dialect = uow.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        # An upsert: two first-time saves racing both succeed, the later one winning.
        stmt = insert(NotificationPreference).values(
            id=uuid7(), tenant_id=tenant_id, subject_id=subject_id, **values
        )
        await uow.session.execute(
            stmt.on_conflict_do_update(index_elements=["tenant_id", "subject_id"], set_=values)
        )
        await audit.record(
            uow,
            by=actor.principal if actor is not None else SYSTEM,
            action="notifications.preferences_update",
            object_type="subject",
            object_id=subject_id,
            details={
                "preferred_kind": preferred_kind,
                "opt_out_non_essential": opt_out_non_essential,
            },
        )
    return Preferences(
        subject_id=subject_id,
        preferred_kind=preferred_kind,
        opt_out_non_essential=opt_out_non_essential,
        updated_at=now,
    )
