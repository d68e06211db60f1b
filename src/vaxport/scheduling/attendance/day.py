"""Reading a centre's day: its sessions, its appointments in time order, a code looked up.

The list shows the people expected (``booked``) and those already seen or missed
(``completed``, ``no_show``); held seats (waitlist offers not yet taken) and ended
bookings (cancelled, released) are not people to expect. Names come from registration's
front door in one batch per page; each person shown is audited as a staff read of
personal data before the answer leaves.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import struct
import uuid
from collections import Counter
from collections.abc import Sequence

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core.db import Database
from vaxport.core.errors import NotFound, invalid
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor
from vaxport.registration import service as registration
from vaxport.scheduling.appointments import BOOKING_CODE_LENGTH
from vaxport.scheduling.attendance import reach
from vaxport.scheduling.attendance.schemas import (
    PAGE_DEFAULT,
    PAGE_MAX,
    AppointmentOut,
    DayPage,
    SessionDayOut,
    StaffAppointmentOut,
)
from vaxport.scheduling.models import Appointment, Session
from vaxport.scheduling.reach import local_today
from vaxport.tenancy.service import TenantInfo

SHOWN = ("booked", "completed", "no_show")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_CURSOR = struct.Struct(">q16s")
_BAD_CURSOR = N_("is not a cursor this list gave out")


def encode_cursor(row: Appointment) -> str:
    """Where the next page starts: after this row's time and id."""
    micros = (row.starts_at - _EPOCH) // dt.timedelta(microseconds=1)
    raw = _CURSOR.pack(micros, row.id.bytes)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    """The time and id a cursor of this list stands for (422 for anything else)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        micros, key = _CURSOR.unpack(raw)
        return _EPOCH + dt.timedelta(microseconds=micros), uuid.UUID(bytes=key)
    except (ValueError, TypeError, OverflowError, struct.error, binascii.Error) as exc:
        raise invalid("cursor", _BAD_CURSOR) from exc


def normalise_code(value: str) -> str:
    """A typed booking code as issued: upper case, no spaces or dashes, O/I/L as 0/1/1.

    422 on ``code`` for anything that cannot be one (wrong length or characters).
    """
    text = "".join(value.split()).replace("-", "").upper().translate(str.maketrans("OIL", "011"))
    if len(text) != BOOKING_CODE_LENGTH or not (text.isascii() and text.isalnum()):
        raise invalid(
            "code",
            N_("is not a booking code: {length} letters and digits"),
            length=BOOKING_CODE_LENGTH,
        )
    return text


def staff_view(row: AppointmentOut, name: registration.PersonName | None) -> StaffAppointmentOut:
    """An appointment with its person's name (empty when the record is gone)."""
    return StaffAppointmentOut(
        **row.model_dump(),
        given_name=name.given_name if name else "",
        family_name=name.family_name if name else None,
        reference=name.reference if name else None,
    )


def session_view(session: Session, counts: Counter[str]) -> SessionDayOut:
    """A session with the count of its appointments by status."""
    return SessionDayOut(
        id=session.id,
        facility_id=session.facility_id,
        product_id=session.product_id,
        day=session.day,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        status=session.status,
        capacity=session.capacity,
        booked=counts["booked"],
        completed=counts["completed"],
        no_show=counts["no_show"],
        closed_at=session.closed_at,
    )


async def status_counts(
    session: AsyncSession, tenant_id: uuid.UUID, session_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Counter[str]]:
    """How many appointments of each session stand in each status."""
    out: dict[uuid.UUID, Counter[str]] = {sid: Counter() for sid in session_ids}
    if not session_ids:
        return out
    rows = await session.execute(
        select(Appointment.session_id, Appointment.status, func.count())
        .where(Appointment.tenant_id == tenant_id, Appointment.session_id.in_(list(session_ids)))
        .group_by(Appointment.session_id, Appointment.status)
    )
    for session_id, status, n in rows:
        out[session_id][status] = int(n)
    return out


async def _sessions_of_day(
    session: AsyncSession, tenant_id: uuid.UUID, facility_id: uuid.UUID, day: dt.date
) -> list[SessionDayOut]:
    found = list(
        await session.scalars(
            select(Session)
            .where(
                Session.tenant_id == tenant_id,
                Session.facility_id == facility_id,
                Session.day == day,
            )
            .order_by(Session.starts_at, Session.id)
        )
    )
    counts = await status_counts(session, tenant_id, [s.id for s in found])
    return [session_view(s, counts[s.id]) for s in found]


async def list_day(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    facility_id: uuid.UUID,
    day: dt.date | None = None,
    cursor: str | None = None,
    limit: int = PAGE_DEFAULT,
) -> DayPage:
    """A centre's day (default: today, tenant time): its sessions and, in time order, a
    page of the people expected or seen, each audited as read."""
    await reach.facility_in_reach(db, tenant, actor, facility_id, reach.READ)
    day = day or local_today(tenant)
    limit = max(1, min(limit, PAGE_MAX))
    query = select(Appointment).where(
        Appointment.tenant_id == tenant.id,
        Appointment.facility_id == facility_id,
        Appointment.day == day,
        Appointment.status.in_(SHOWN),
    )
    if cursor:
        at, last = decode_cursor(cursor)
        query = query.where(
            or_(
                Appointment.starts_at > at,
                and_(Appointment.starts_at == at, Appointment.id > last),
            )
        )
    query = query.order_by(Appointment.starts_at, Appointment.id).limit(limit + 1)
    async with db.read(tenant_id=tenant.id) as session:
        sessions = await _sessions_of_day(session, tenant.id, facility_id, day)
        found = list(await session.scalars(query))
        more = len(found) > limit
        next_cursor = encode_cursor(found[limit - 1]) if more else None
        rows = [AppointmentOut.model_validate(r) for r in found[:limit]]
    names = await registration.names_of(
        db=db, tenant_id=tenant.id, ids=[r.beneficiary_id for r in rows]
    )
    if rows:
        async with db.transaction(tenant_id=tenant.id) as uow:
            await reach.audit_people(
                uow,
                actor,
                "appointment.day_list",
                [r.beneficiary_id for r in rows],
                facility_id=str(facility_id),
                day=day.isoformat(),
            )
    return DayPage(
        facility_id=facility_id,
        day=day,
        sessions=sessions,
        items=[staff_view(r, names.get(r.beneficiary_id)) for r in rows],
        next_cursor=next_cursor,
    )


async def find_by_code(
    *, db: Database, tenant: TenantInfo, actor: Actor, code: str
) -> StaffAppointmentOut:
    """The appointment with this booking code, at a centre in the actor's reach (else
    404, whether or not the code exists elsewhere); the read is audited."""
    reach.staff_only(actor)
    wanted = normalise_code(code)
    async with db.read(tenant_id=tenant.id) as session:
        found = await session.scalar(
            select(Appointment).where(
                Appointment.tenant_id == tenant.id, Appointment.booking_code == wanted
            )
        )
        if found is None:
            raise NotFound(reach.NO_APPOINTMENT)
        where = reach.located(tenant.id, found.region_code, found.facility_id)
        reach.check(actor, reach.READ, where, reach.NO_APPOINTMENT)
        row = AppointmentOut.model_validate(found)
    names = await registration.names_of(db=db, tenant_id=tenant.id, ids=[row.beneficiary_id])
    async with db.transaction(tenant_id=tenant.id) as uow:
        await reach.audit_people(
            uow, actor, "appointment.by_code", [row.beneficiary_id], appointment_id=str(row.id)
        )
    return staff_view(row, names.get(row.beneficiary_id))


async def session_day(
    *, db: Database, tenant: TenantInfo, actor: Actor, session_id: uuid.UUID
) -> SessionDayOut:
    """One session with its counts (what closing it would mark), in the actor's reach."""
    reach.staff_only(actor)
    async with db.read(tenant_id=tenant.id) as session:
        found = await session.scalar(
            select(Session).where(Session.tenant_id == tenant.id, Session.id == session_id)
        )
        if found is None:
            raise NotFound(reach.NO_SESSION)
        where = reach.located(tenant.id, found.region_code, found.facility_id)
        reach.check(actor, reach.WRITE, where, reach.NO_SESSION)
        counts = await status_counts(session, tenant.id, [found.id])
        return session_view(found, counts[found.id])
