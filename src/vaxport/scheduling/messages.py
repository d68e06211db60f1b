"""Messages about appointments: confirmation, change, cancellation, offers and reminders.

One outbox subscriber (:data:`SUBSCRIBERS`) turns the context's appointment events into
messages queued with ``notifications.notify`` for the person (``to=beneficiary_id``: the
registration resolver finds their contact, or the account holder's for a family member
without one). Each message names its appointment in its dedup key, so a redelivered
event queues nothing twice. The values (:mod:`.message_values`, in the message's language
and the tenant's time zone): booking code, centre name (and address, for e-mail), date
and time; never the person's name or anything else about them.

- ``appointment.booked`` / ``.rescheduled``: a confirmation, and a reminder due
  :data:`REMINDER_LEAD` before the start (none when that is less than
  :data:`REMINDER_NOTICE` away: the confirmation has just said it all).
- ``appointment.held``: a waitlist offer, urgent (a hold is short: quiet hours would
  outlive it) and not sent once the hold is over; plus the reminder, which only goes out
  if the offer was accepted by then.
- ``appointment.cancelled``: a cancellation (not when a reschedule replaced it: that has
  its own message); ``appointment.released`` and ``session.cancelled``: the centre
  cancelled, with a link to book again.
- Every ending event withdraws the appointment's queued reminder and offer, and the
  relevance checks (:data:`RELEVANCE_CHECKS`, installed by the composition root) drop at
  send time a reminder whose appointment is no longer booked at the time it was written
  for, and an offer no longer held: what no event said is caught there.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sqlalchemy import select

from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.logging import get_logger
from vaxport.core.outbox import Event, HandlerContext, Subscriber
from vaxport.facilities import service as facilities
from vaxport.notifications import service as notifications
from vaxport.notifications.service import MessageRef, RelevanceCheck
from vaxport.scheduling.events import (
    APPOINTMENT_BOOKED,
    APPOINTMENT_CANCELLED,
    APPOINTMENT_COMPLETED,
    APPOINTMENT_HELD,
    APPOINTMENT_HOLD_EXPIRED,
    APPOINTMENT_NO_SHOW,
    APPOINTMENT_RELEASED,
    APPOINTMENT_RESCHEDULED,
    SESSION_CANCELLED,
    SESSION_CHANGED,
)
from vaxport.scheduling.message_values import Place, shown_values
from vaxport.scheduling.models import Appointment
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantInfo, get_tenant_by_id

__all__ = ["RELEVANCE_CHECKS", "REMINDER_LEAD", "REMINDER_NOTICE", "SUBSCRIBERS"]

log = get_logger("vaxport.scheduling")

REMINDER_LEAD = dt.timedelta(hours=24)
REMINDER_NOTICE = dt.timedelta(hours=6)
# Pages the messages link to (the citizen pages serve them): where to search for a slot,
# and where a person sees (and accepts) their appointments.
SEARCH_PAGE = "/{tenant}/slots"
APPOINTMENTS_PAGE = "/{tenant}/appointments/{appointment_id}"
REASON = "appointment"

BOOKED = "appointment_booked"
RESCHEDULED = "appointment_rescheduled"
CANCELLED = "appointment_cancelled"
RELEASED = "appointment_released"
OFFER = "appointment_offer"
REMINDER = "appointment_reminder"

_ENDINGS = (
    APPOINTMENT_CANCELLED,
    APPOINTMENT_RELEASED,
    APPOINTMENT_COMPLETED,
    APPOINTMENT_NO_SHOW,
    APPOINTMENT_HOLD_EXPIRED,
)


@dataclass(frozen=True, slots=True)
class _Appt:
    """What a message needs of an appointment (read, then the session closed)."""

    id: uuid.UUID
    beneficiary_id: uuid.UUID
    facility_id: uuid.UUID
    status: str
    booking_code: str
    starts_at: dt.datetime
    hold_expires_at: dt.datetime | None

    @property
    def reminder_reason(self) -> str:
        # The start is part of the reason: a reminder is for this appointment at this time.
        return f"{self.id}@{int(self.starts_at.timestamp())}"


def _copy(row: Appointment) -> _Appt:
    return _Appt(
        id=row.id,
        beneficiary_id=row.beneficiary_id,
        facility_id=row.facility_id,
        status=row.status,
        booking_code=row.booking_code,
        starts_at=row.starts_at,
        hold_expires_at=row.hold_expires_at,
    )


@dataclass(frozen=True, slots=True)
class _Ctx:
    """One event's handling: the process's parts and the tenant."""

    db: Database
    cache: Cache
    settings: Settings
    tenant: TenantInfo


async def on_appointment_event(event: Event, ctx: HandlerContext) -> None:
    """Queue (or withdraw) the messages an appointment or session event calls for."""
    if event.tenant_id is None:
        return
    tenant = await get_tenant_by_id(db=ctx.db, cache=ctx.cache, tenant_id=event.tenant_id)
    run = _Ctx(ctx.db, ctx.cache, ctx.settings, tenant)
    kind = event.event_type
    if kind in (SESSION_CANCELLED, SESSION_CHANGED):
        session_id = uuid.UUID(str(event.payload["session_id"]))
        if kind == SESSION_CANCELLED:
            released = await _of_session(ctx.db, tenant.id, session_id, "released")
            await _queue(run, released, _Plan(RELEASED, remind=False), withdraw=released)
        else:  # its times may have moved: a reminder for each new time
            booked = await _of_session(ctx.db, tenant.id, session_id, "booked")
            await _queue(run, booked, _Plan(None, remind=True))
        return
    found = await _read(ctx.db, tenant.id, uuid.UUID(str(event.payload["appointment_id"])))
    if found is None:
        return  # not this tenant's (or never committed): nothing to say
    withdraw = [found] if kind in _ENDINGS else []
    replaces = event.payload.get("replaces_id")
    if replaces:
        old = await _read(ctx.db, tenant.id, uuid.UUID(str(replaces)))
        withdraw += [old] if old is not None else []
    plan = await _plan(ctx.db, tenant.id, kind, found)
    await _queue(run, [found], plan, withdraw=withdraw)


@dataclass(frozen=True, slots=True)
class _Plan:
    """The message to queue (None: none) and whether to schedule the reminder."""

    message: str | None
    remind: bool


_NOTHING = _Plan(None, remind=False)


async def _plan(db: Database, tenant_id: uuid.UUID, kind: str, appt: _Appt) -> _Plan:
    """What ``kind`` calls for about ``appt`` as it is now (it may have moved on since)."""
    booked = appt.status == "booked"
    if kind in (APPOINTMENT_BOOKED, APPOINTMENT_RESCHEDULED):
        # Already ended: its own event says so, a confirmation now would mislead.
        return (
            _Plan(BOOKED if kind == APPOINTMENT_BOOKED else RESCHEDULED, True)
            if booked
            else _NOTHING
        )
    if kind == APPOINTMENT_HELD:
        if _offer_open(appt, utcnow()):
            return _Plan(OFFER, remind=True)  # the reminder only goes if accepted by then
        return _Plan(None, remind=True) if booked else _NOTHING
    if kind == APPOINTMENT_CANCELLED and appt.status == "cancelled":
        # A reschedule ends the old appointment too: its own message covers both.
        return _NOTHING if await _replaced(db, tenant_id, appt.id) else _Plan(CANCELLED, False)
    if kind == APPOINTMENT_RELEASED and appt.status == "released":
        return _Plan(RELEASED, remind=False)
    return _NOTHING


async def _queue(
    run: _Ctx, appointments: Sequence[_Appt], plan: _Plan, *, withdraw: Sequence[_Appt] = ()
) -> None:
    """Withdraw what is still queued about ``withdraw`` (ended appointments), then carry
    out ``plan`` for each of ``appointments``, in one transaction."""
    if plan == _NOTHING:
        appointments = ()
    if not appointments and not withdraw:
        return
    places: dict[uuid.UUID, Place] = {}
    for appt in appointments:
        if appt.facility_id not in places:
            found = await facilities.get(db=run.db, tenant=run.tenant, facility_id=appt.facility_id)
            places[appt.facility_id] = Place(found.name, found.address)
    tenant_id = run.tenant.id
    async with run.db.transaction(tenant_id=tenant_id) as uow:
        for ended in withdraw:
            await _withdraw(uow, tenant_id, ended)
        for appt in appointments:
            locale = await notifications.message_locale(
                uow, tenant_id=tenant_id, subject_id=appt.beneficiary_id
            )
            data = _values(run, appt, places[appt.facility_id], locale)
            if plan.message is not None:
                await _notify(uow, run, appt, message=plan.message, data=data, locale=locale)
            if plan.remind:
                await _remind(uow, run, appt, data=data, locale=locale)


# The values each message shows (the rest of :func:`_values` is left out of its data).
_SHOWN = ("code", "place", "address", "date", "time")
_EXTRA: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {RELEASED: ("search_url",), OFFER: ("hold_until", "url")}
)


def _only(data: Mapping[str, Any], message: str) -> dict[str, Any]:
    return {k: data[k] for k in (*_SHOWN, *_EXTRA.get(message, ()))}


async def _notify(
    uow: UnitOfWork,
    run: _Ctx,
    appt: _Appt,
    *,
    message: str,
    data: Mapping[str, Any],
    locale: str,
) -> None:
    offer = message == OFFER
    await notifications.notify(
        uow,
        tenant_id=run.tenant.id,
        event=message,
        to=appt.beneficiary_id,
        data=_only(data, message),
        locale=locale,
        dedup_key=f"{message}:{appt.id}",
        urgent=offer,
        reason=(REASON, appt.id) if offer else None,
        expires_at=appt.hold_expires_at if offer else None,
    )
    log.info("scheduling.message_queued", appointment_id=str(appt.id), message=message)


async def _remind(
    uow: UnitOfWork, run: _Ctx, appt: _Appt, *, data: Mapping[str, Any], locale: str
) -> None:
    due = appt.starts_at - REMINDER_LEAD
    if due - utcnow() < REMINDER_NOTICE:
        return
    await notifications.notify(
        uow,
        tenant_id=run.tenant.id,
        event=REMINDER,
        to=appt.beneficiary_id,
        data=_only(data, REMINDER),
        locale=locale,
        dedup_key=f"{REMINDER}:{appt.reminder_reason}",
        due_at=due,
        reason=(REASON, appt.reminder_reason),
        expires_at=appt.starts_at,
    )
    log.info("scheduling.reminder_scheduled", appointment_id=str(appt.id))


async def _withdraw(uow: UnitOfWork, tenant_id: uuid.UUID, appt: _Appt) -> None:
    """Cancel the appointment's reminder and offer still waiting to be sent."""
    for reason_id in (appt.reminder_reason, str(appt.id)):
        await notifications.cancel_for_reason(
            uow, tenant_id=tenant_id, reason_type=REASON, reason_id=reason_id
        )


def _values(run: _Ctx, appt: _Appt, place: Place, locale: str) -> dict[str, Any]:
    """Every value an appointment message may show, in ``locale``."""
    base = run.settings.public_url.rstrip("/")
    return shown_values(
        tenant=run.tenant,
        code=appt.booking_code,
        starts_at=appt.starts_at,
        hold_until=appt.hold_expires_at,
        place=place,
        locale=locale,
        search_url=base + SEARCH_PAGE.format(tenant=run.tenant.code),
        url=base + APPOINTMENTS_PAGE.format(tenant=run.tenant.code, appointment_id=appt.id),
    )


def _offer_open(appt: _Appt, now: dt.datetime) -> bool:
    return appt.status == "held" and (appt.hold_expires_at is None or appt.hold_expires_at > now)


async def _read(db: Database, tenant_id: uuid.UUID, appointment_id: uuid.UUID) -> _Appt | None:
    async with db.read(tenant_id=tenant_id) as session:
        row = await session.scalar(
            select(Appointment).where(
                Appointment.tenant_id == tenant_id, Appointment.id == appointment_id
            )
        )
        return _copy(row) if row is not None else None


async def _read_in(
    uow: UnitOfWork, tenant_id: uuid.UUID, appointment_id: uuid.UUID
) -> _Appt | None:
    row = await uow.session.scalar(
        select(Appointment).where(
            Appointment.tenant_id == tenant_id, Appointment.id == appointment_id
        )
    )
    return _copy(row) if row is not None else None


async def _replaced(db: Database, tenant_id: uuid.UUID, appointment_id: uuid.UUID) -> bool:
    async with db.read(tenant_id=tenant_id) as session:
        found = await session.scalar(
            select(Appointment.id)
            .where(Appointment.tenant_id == tenant_id, Appointment.replaces_id == appointment_id)
            .limit(1)
        )
        return found is not None


async def _of_session(
    db: Database, tenant_id: uuid.UUID, session_id: uuid.UUID, status: str
) -> list[_Appt]:
    async with db.read(tenant_id=tenant_id) as session:
        rows = (
            await session.scalars(
                select(Appointment)
                .where(
                    Appointment.tenant_id == tenant_id,
                    Appointment.session_id == session_id,
                    Appointment.status == status,
                )
                .order_by(Appointment.id)
            )
        ).all()
        return [_copy(row) for row in rows]


def _reason(ref: MessageRef) -> tuple[uuid.UUID, int | None] | None:
    """(appointment id, start in epoch seconds if the reason names one) of a message."""
    if ref.reason_type != REASON:
        return None
    head, _, start = ref.reason_id.partition("@")
    try:
        return uuid.UUID(head), (int(start) if start else None)
    except ValueError:
        return None


async def reminder_still_due(uow: UnitOfWork, ref: MessageRef) -> bool:
    """A reminder goes out only for an appointment still booked, at the time it names."""
    named = _reason(ref)
    if named is None:
        return False
    appt = await _read_in(uow, ref.tenant_id, named[0])
    return (
        appt is not None
        and appt.status == "booked"
        and appt.starts_at > utcnow()
        and named[1] in (None, int(appt.starts_at.timestamp()))
    )


async def offer_still_open(uow: UnitOfWork, ref: MessageRef) -> bool:
    """An offer goes out only while its seat is still held for the person."""
    named = _reason(ref)
    if named is None:
        return False
    appt = await _read_in(uow, ref.tenant_id, named[0])
    return appt is not None and _offer_open(appt, utcnow())


RELEVANCE_CHECKS: Mapping[str, RelevanceCheck] = MappingProxyType(
    {REMINDER: reminder_still_due, OFFER: offer_still_open}
)

SUBSCRIBERS: tuple[Subscriber, ...] = (
    Subscriber.each(
        "scheduling.appointment-messages",
        (
            APPOINTMENT_BOOKED,
            APPOINTMENT_RESCHEDULED,
            APPOINTMENT_HELD,
            *_ENDINGS,
            SESSION_CANCELLED,
            SESSION_CHANGED,
        ),
        on_appointment_event,
    ),
)
