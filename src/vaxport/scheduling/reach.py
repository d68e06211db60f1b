"""Who reaches an appointment, reading appointments, and who a centre reaches through them.

An appointment is reached by the citizen whose account booked it, by staff whose
jurisdiction holds its facility (region subtree or that facility), and by whoever reaches
its person (registration decides: a citizen who claimed the person since, staff of the
person's region). Anything else answers 404, as if it did not exist. Staff reads are
audited per person, as registration audits reads of records.

:func:`booked_at` is scheduling's answer to registration's reach port
(``registration/reach.py``): the people booked at a facility today, whom the facility's
staff then reach (wired in ``wiring.py``).
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Date, Select, Uuid, bindparam, select

from vaxport.core import audit
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import NotFound, invalid
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor, Resource, can
from vaxport.registration import service as registration
from vaxport.scheduling.booking_schemas import AppointmentOut, AppointmentPage, AppointmentQuery
from vaxport.scheduling.models import Appointment
from vaxport.tenancy.service import TenantInfo

__all__ = ["booked_at", "get_appointment", "in_reach", "list_appointments", "local_today"]

READ = "appointments:read"
# Statuses that put a person at a centre on the day (a held offer is not accepted yet).
AT_THE_CENTRE = ("booked", "completed", "no_show")


def local_today(tenant: TenantInfo, now: dt.datetime | None = None) -> dt.date:
    """Today's date in the tenant's time zone."""
    return tenant.config.local_today(now)


def booked_at(tenant: TenantInfo, facility_id: uuid.UUID) -> Select[Any]:
    """The ids of the people with an appointment at ``facility_id`` today (a subquery).

    Its values are parameters named as registration's port says (``booked_tenant``,
    ``booked_facility``, ``booked_day``): a statement built with it once serves every
    facility and day, given their values."""
    return select(Appointment.beneficiary_id).where(
        Appointment.tenant_id == bindparam("booked_tenant", tenant.id, type_=Uuid()),
        Appointment.facility_id == bindparam("booked_facility", facility_id, type_=Uuid()),
        Appointment.day == bindparam("booked_day", local_today(tenant), type_=Date()),
        Appointment.status.in_(AT_THE_CENTRE),
    )


def is_staff(actor: Actor) -> bool:
    return actor.kind != "citizen"


async def audit_staff(
    uow: UnitOfWork, actor: Actor, action: str, person_id: uuid.UUID, **details: Any
) -> None:
    """An audit entry about a person when staff act (citizens' own acts are not audited)."""
    if is_staff(actor):
        await audit.record(
            uow,
            by=actor.principal,
            action=action,
            object_type="beneficiary",
            object_id=person_id,
            details=details,
        )


async def in_reach(
    uow: UnitOfWork,
    *,
    tenant: TenantInfo,
    actor: Actor,
    appointment_id: uuid.UUID,
    permission: str,
    lock: bool = False,
) -> Appointment:
    """The appointment when ``actor`` reaches it for ``permission``; 404 otherwise."""
    query = select(Appointment).where(
        Appointment.tenant_id == tenant.id, Appointment.id == appointment_id
    )
    row = await uow.session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound(N_("appointment not found"))
    where = Resource(
        tenant.id, region_code=row.region_code, facility_id=row.facility_id, owner_id=row.account_id
    )
    if not can(actor, permission, where):
        try:
            await registration.person_in_reach(
                uow,
                tenant=tenant,
                actor=actor,
                beneficiary_id=row.beneficiary_id,
                permission=permission,
            )
        except NotFound:
            raise NotFound(N_("appointment not found")) from None
    return row


def appointment_out(row: Appointment) -> AppointmentOut:
    """The answer for one appointment."""
    return AppointmentOut.model_validate(row)


async def get_appointment(
    *, db: Database, tenant: TenantInfo, actor: Actor, appointment_id: uuid.UUID
) -> AppointmentOut:
    """One appointment in the actor's reach (staff reads are audited)."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        row = await in_reach(
            uow, tenant=tenant, actor=actor, appointment_id=appointment_id, permission=READ
        )
        await audit_staff(
            uow, actor, "appointment.read", row.beneficiary_id, appointment=str(row.id)
        )
        return appointment_out(row)


def _encode(last: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last.bytes).decode().rstrip("=")


def _decode(cursor: str) -> uuid.UUID:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (ValueError, TypeError) as exc:
        raise invalid("cursor", N_("is not a cursor this list gave out")) from exc


async def list_appointments(
    *, db: Database, tenant: TenantInfo, actor: Actor, query: AppointmentQuery
) -> AppointmentPage:
    """A person's appointments (or, for a citizen, their family's), newest first."""
    if query.beneficiary_id is None and is_staff(actor):
        raise invalid("beneficiary_id", N_("is required: name the person whose appointments"))
    async with db.transaction(tenant_id=tenant.id) as uow:
        whose: Any
        if query.beneficiary_id is None:
            whose = Appointment.account_id == actor.account_id
        else:
            person = await registration.person_in_reach(
                uow,
                tenant=tenant,
                actor=actor,
                beneficiary_id=query.beneficiary_id,
                permission=READ,
            )
            whose = Appointment.beneficiary_id == person.id
        stmt = select(Appointment).where(Appointment.tenant_id == tenant.id, whose)
        if query.cursor:
            stmt = stmt.where(Appointment.id < _decode(query.cursor))
        stmt = stmt.order_by(Appointment.id.desc()).limit(query.limit + 1)
        rows = list((await uow.session.scalars(stmt)).all())
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        if query.beneficiary_id is not None:
            await audit_staff(uow, actor, "appointment.list", query.beneficiary_id)
        items = [appointment_out(r) for r in rows]
    return AppointmentPage(items=items, next_cursor=_encode(rows[-1].id) if more else None)
