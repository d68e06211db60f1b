"""Who reaches which person: the scope steps the review use cases share.

A person sits where they live (``region_code``) and, for walk-ins, at the centre that
registered them (``facility_id``); the account managing them owns them. Out of reach is
reported as missing (404), as everywhere.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from vaxport.core import audit
from vaxport.core.db import UnitOfWork
from vaxport.core.errors import Forbidden, NotFound, invalid
from vaxport.core.i18n import N_
from vaxport.identity import service as identity
from vaxport.identity.service import Actor
from vaxport.registration.models import Beneficiary
from vaxport.registration.presenters import resource

MAX_LIMIT = 200


def located(actor: Actor, region_column: Any, facility_column: Any) -> list[Any]:
    """WHERE clauses limiting located rows to a staff actor's jurisdiction."""
    if actor.is_national:
        return []
    if actor.facility_id is not None:
        return [facility_column == actor.facility_id]
    return [region_column.in_(sorted(actor.region_filter_codes() or frozenset()))]


def staff_only(actor: Actor) -> None:
    """Review queues are staff work: citizens are refused (403)."""
    if actor.kind != "staff":
        raise Forbidden(N_("this is work for staff"))


def check_limit(limit: int) -> None:
    """422 unless ``1 <= limit <= MAX_LIMIT``."""
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid("limit", N_("must be between 1 and {maximum}"), maximum=MAX_LIMIT)


def after(cursor: str | None) -> uuid.UUID | None:
    """The id a cursor of these lists stands for (422 for one we never gave out)."""
    if not cursor:
        return None
    try:
        return uuid.UUID(cursor)
    except ValueError:
        raise invalid("cursor", N_("is not a cursor this list gave out")) from None


async def load(
    uow: UnitOfWork,
    actor: Actor,
    beneficiary_id: uuid.UUID,
    permission: str,
    *,
    lock: bool = False,
) -> Beneficiary:
    """A person the actor may exercise ``permission`` on (404 otherwise)."""
    query = select(Beneficiary).where(
        Beneficiary.tenant_id == actor.tenant_id, Beneficiary.id == beneficiary_id
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    beneficiary = (await uow.session.execute(query)).scalar_one_or_none()
    if beneficiary is None:
        raise NotFound(N_("person not found"))
    identity.authorize(actor, permission, resource(beneficiary), what="person")
    return beneficiary


async def record(
    uow: UnitOfWork,
    actor: Actor,
    action: str,
    beneficiary_id: uuid.UUID,
    details: dict[str, Any],
) -> None:
    """One audit entry about a person (ids only in ``details``), in the act's transaction."""
    await audit.record(
        uow,
        by=actor.principal,
        action=action,
        object_type="beneficiary",
        object_id=beneficiary_id,
        details=details,
    )
