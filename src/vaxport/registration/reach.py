"""Who a facility's staff reach beyond the people registered at their centre.

A facility's vaccinators and managers reach the walk-ins registered there (``facility_id``)
and, on the day of an appointment, the people booked at their facility that day: they
find them at the desk, read their record and book their next dose. Appointments are the
scheduling context's, which sits above registration: scheduling answers through this port
(the ids of the people booked at a facility today, as a subquery), and the composition
root installs it (``wiring.install``); without it, the facility scope is the walk-ins only.

Every read through this reach is a staff read like any other: audited by the use case.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.identity.service import Actor, can
from vaxport.registration.models import Beneficiary
from vaxport.registration.presenters import resource, scope_filter
from vaxport.tenancy.service import TenantInfo

__all__ = [
    "BOOKED_PARAMS",
    "BookedAt",
    "booked_extends",
    "booked_today",
    "install_booked_at",
    "reach_filter",
    "reaches",
]

# (tenant, facility id) -> SELECT of the ids of the people booked there today, its values
# as parameters named ``BOOKED_PARAMS`` (a statement built with it once is given the
# values of each request: ``facts_read``).
BookedAt = Callable[[TenantInfo, uuid.UUID], Select[Any]]
BOOKED_PARAMS = ("booked_tenant", "booked_facility", "booked_day")

_booked_at: BookedAt | None = None

# What the day's appointments open to facility staff: finding and reading the person,
# their appointments (booking the next dose) and their doses (recording the one given
# today); changing their record stays with their own registration's jurisdiction.
EXTENDED = frozenset(
    {
        "beneficiaries:read",
        "appointments:read",
        "appointments:write",
        "doses:read",
        "doses:write",
    }
)


def install_booked_at(port: BookedAt | None) -> None:
    """Set (or clear) the port answering who is booked at a facility today."""
    global _booked_at  # noqa: PLW0603 - the composition root's one hook, process-wide
    _booked_at = port


def booked_extends(actor: Actor, permission: str) -> bool:
    """Whether the people booked at ``actor``'s facility today are in their reach for
    ``permission`` too (without building the subquery)."""
    return not (
        _booked_at is None
        or actor.kind != "staff"
        or actor.facility_id is None
        or permission not in EXTENDED
        or not actor.has(permission)
    )


def booked_today(actor: Actor, tenant: TenantInfo, permission: str) -> Select[Any] | None:
    """The people booked at ``actor``'s facility today, when that extends their reach for
    ``permission`` (a subquery of ids); None when it does not."""
    if _booked_at is None or actor.facility_id is None or not booked_extends(actor, permission):
        return None
    return _booked_at(tenant, actor.facility_id)


def reach_filter(actor: Actor, tenant: TenantInfo, permission: str) -> ColumnElement[bool]:
    """The people ``actor`` reaches for ``permission``, as a WHERE clause."""
    booked = booked_today(actor, tenant, permission)
    if booked is None:
        return scope_filter(actor)
    return or_(scope_filter(actor), Beneficiary.id.in_(booked))


async def reaches(
    session: AsyncSession, actor: Actor, tenant: TenantInfo, permission: str, person: Beneficiary
) -> bool:
    """Whether ``actor`` may exercise ``permission`` on ``person`` (one query at most)."""
    if can(actor, permission, resource(person)):
        return True
    booked = booked_today(actor, tenant, permission)
    if booked is None:
        return False
    found = await session.scalar(select(exists(booked.where(_is(booked, person.id)))))
    return bool(found)


def _is(booked: Select[Any], person_id: uuid.UUID) -> ColumnElement[bool]:
    column = booked.selected_columns[0]
    return column == person_id
