"""Waitlist offers: a freed seat held for the next waiting person, accepted or passed on.

When a seat frees up (a cancellation, a released or lapsed hold, a newly published
session: the waitlist's subscriber), :func:`offer_seats` gives each free seat of the slot
to the first waiting place (first come, first served) whose region subtree, days and
product match and whose person may have the dose there, as a held appointment
(``book_in(..., hold_until=now + booking.fairness.hold_minutes)``, ``appointment.held``).
The person accepts (:func:`accept`: held becomes booked, at the version read, before the
hold ends) or the expiry job (:mod:`vaxport.scheduling.hold_expiry`) ends the hold
(``appointment.hold_expired``), which offers the seat to the next place.

A session released by draw offers nothing before its draw is made. Places are taken with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL and moved from ``waiting`` only by a conditional
update, so two workers offering the same slot never give one place two seats.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from vaxport.core import audit
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork, affected
from vaxport.core.errors import Conflict, NotFound
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor, Resource, authorize
from vaxport.registration.service import person_facts
from vaxport.scheduling.appointments import Seat, book_in
from vaxport.scheduling.availability import slots_changed
from vaxport.scheduling.events import (
    APPOINTMENT_BOOKED,
    appointment_event,
)
from vaxport.scheduling.fairness.eligibility import eligible
from vaxport.scheduling.fairness.schemas import AcceptedOut
from vaxport.scheduling.models import Appointment, Session, Slot, WaitlistEntry
from vaxport.scheduling.release import fairness_of, release_state
from vaxport.tenancy.service import TenantInfo

WRITE = "appointments:write"
# Places read per round while looking for one that may have the seat.
_CANDIDATES = 20


class HoldExpired(Conflict):
    """The offer's hold ended before it was accepted: the seat went to the next person."""

    slug = "hold-expired"
    title = N_("This offer has expired")


class NotHeld(Conflict):
    """The appointment is not an offer waiting for an answer."""

    slug = "not-held"
    title = N_("This appointment is not an offer")


class _Raced(Exception):  # noqa: N818 - internal signal: roll the attempt back
    """Another worker moved the place first: undo this attempt and look again."""


def _ancestors(tenant: TenantInfo, region_code: str) -> list[str]:
    """``region_code`` and the regions above it (places there cover it)."""
    node = tenant.config.region_index.get(region_code)
    if node is None:
        return [region_code]
    return [code for code in node.path.split("/") if code]


async def offer_seats(
    *,
    db: Database,
    cache: Cache,
    tenant: TenantInfo,
    slot_ids: Sequence[uuid.UUID],
    now: dt.datetime | None = None,
) -> int:
    """Offer every free seat of these slots to the waitlist; the offers made."""
    now = now or utcnow()
    if not slot_ids or not await _anyone_waiting(db, tenant, slot_ids):
        return 0
    offers = 0
    for slot_id in slot_ids:
        for _ in range(10_000):  # bounded: a slot has at most that many seats to give
            try:
                made = await _offer_one(db, tenant, slot_id, now)
            except _Raced:
                continue
            if made is None:
                break
            offers += 1
    if offers:
        await slots_changed(cache, tenant.id)
    return offers


async def _anyone_waiting(db: Database, tenant: TenantInfo, slot_ids: Sequence[uuid.UUID]) -> bool:
    """Whether someone waits for a product of these slots: one read on the queue's index,
    so a freed seat (or a published session) nobody waits for costs no write transaction
    per slot (a demo week published at once queued 1,600 such events)."""
    products = select(Slot.product_id).where(Slot.tenant_id == tenant.id, Slot.id.in_(slot_ids))
    async with db.read(tenant_id=tenant.id) as s:
        found = await s.scalar(
            select(WaitlistEntry.id)
            .where(
                WaitlistEntry.tenant_id == tenant.id,
                WaitlistEntry.status == "waiting",
                WaitlistEntry.product_id.in_(products),
            )
            .limit(1)
        )
    return found is not None


async def _offer_one(
    db: Database, tenant: TenantInfo, slot_id: uuid.UUID, now: dt.datetime
) -> uuid.UUID | None:
    """One free seat of the slot held for the first place that may have it; its id."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        slot = await uow.session.scalar(
            select(Slot).where(Slot.tenant_id == tenant.id, Slot.id == slot_id)
        )
        if slot is None or slot.status != "open" or slot.booked >= slot.capacity:
            return None
        session = await uow.session.get(Session, slot.session_id)
        if session is None or session.status != "open" or slot.starts_at <= now:
            return None
        if await release_state(uow.session, tenant, session, now=now) != "first-come":
            return None  # a released session's seats go to its draw first
        after: tuple[dt.datetime, uuid.UUID] | None = None
        while True:
            places = await _candidates(uow, tenant, slot, after)
            if not places:
                return None
            for place in places:
                made = await _try(uow, tenant, slot, session=session, place=place, now=now)
                if made == "full":
                    return None
                if made is not None:
                    return made
            after = (places[-1].created_at, places[-1].id)


async def _candidates(
    uow: UnitOfWork, tenant: TenantInfo, slot: Slot, after: tuple[dt.datetime, uuid.UUID] | None
) -> list[WaitlistEntry]:
    query = select(WaitlistEntry).where(
        WaitlistEntry.tenant_id == tenant.id,
        WaitlistEntry.product_id == slot.product_id,
        WaitlistEntry.status == "waiting",
        WaitlistEntry.region_code.in_(_ancestors(tenant, slot.region_code)),
        WaitlistEntry.from_day <= slot.day,
        WaitlistEntry.to_day >= slot.day,
    )
    if after is not None:
        query = query.where(
            (WaitlistEntry.created_at > after[0])
            | ((WaitlistEntry.created_at == after[0]) & (WaitlistEntry.id > after[1]))
        )
    query = query.order_by(WaitlistEntry.created_at, WaitlistEntry.id).limit(_CANDIDATES)
    if uow.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list((await uow.session.scalars(query)).all())


async def _try(
    uow: UnitOfWork,
    tenant: TenantInfo,
    slot: Slot,
    *,
    session: Session,
    place: WaitlistEntry,
    now: dt.datetime,
) -> uuid.UUID | Literal["full"] | None:
    """Hold the slot's seat for ``place`` if its person may have it: the appointment id,
    ``"full"`` when the slot has no seat left, None when this place cannot have it.

    A place whose person can never have it (gone, limits, booked elsewhere...) is closed;
    one that must wait (too early on this day), or that this session's own terms refuse
    (a dose it does not give, its ages or groups), stays for another seat.
    """
    person = await person_facts(uow.session, tenant.id, place.beneficiary_id)
    verdict = None
    if person is not None:
        verdict = await eligible(
            uow,
            tenant,
            person,
            product_id=slot.product_id,
            day=slot.day,
            dose_numbers=session.dose_numbers,
            session_rules=session.eligibility,
            excluding=(place.id,),
        )
        if verdict.ok:
            seat = Seat(person.id, person.account_id, verdict.series, verdict.dose_number, None)
            hold = now + dt.timedelta(minutes=fairness_of(tenant).hold_minutes)
            try:
                async with uow.savepoint():
                    made = await book_in(uow, tenant.id, slot.id, seat, hold_until=hold)
            except IntegrityError:
                made = None  # a live appointment for this dose appeared meanwhile
            else:
                if made is None:
                    return "full"
                await _move(uow, place, "offered", now, appointment_id=made.id, offered=True)
                return made.id
    lasting = person is None or verdict is None or verdict.lasting
    if lasting:
        reason = "person-gone"
        if verdict is not None:
            reason = next((r.code for r in verdict.refusals if r.lasting), "refused")
        await _move(uow, place, "closed", now, reason=reason)
    return None


async def _move(
    uow: UnitOfWork,
    place: WaitlistEntry,
    status: str,
    now: dt.datetime,
    *,
    appointment_id: uuid.UUID | None = None,
    offered: bool = False,
    reason: str | None = None,
) -> None:
    """A waiting place to ``status`` at the version read, or :class:`_Raced`."""
    values: dict[str, object] = {
        "status": status,
        "updated_at": now,
        "version": WaitlistEntry.version + 1,
        "ended_reason": reason,
    }
    if appointment_id is not None:
        values["appointment_id"] = appointment_id
    if offered:
        values["offers"] = WaitlistEntry.offers + 1
    result = await uow.session.execute(
        update(WaitlistEntry)
        .where(
            WaitlistEntry.id == place.id,
            WaitlistEntry.status == "waiting",
            WaitlistEntry.version == place.version,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if affected(result) != 1:
        raise _Raced(str(place.id))


def _appointment_resource(appointment: Appointment) -> Resource:
    return Resource(
        tenant_id=appointment.tenant_id,
        region_code=appointment.region_code,
        facility_id=appointment.facility_id,
        owner_id=appointment.account_id,
    )


async def accept(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    appointment_id: uuid.UUID,
    now: dt.datetime | None = None,
) -> AcceptedOut:
    """Turn a held offer into a booking, before its hold ends (409 ``hold-expired`` after,
    409 ``not-held`` for an appointment that is no offer). Accepting twice answers the
    booking."""
    now = now or utcnow()
    async with db.transaction(tenant_id=tenant.id) as uow:
        held = await uow.session.scalar(
            select(Appointment).where(
                Appointment.tenant_id == tenant.id, Appointment.id == appointment_id
            )
        )
        if held is None:
            raise NotFound(N_("appointment not found"))
        authorize(actor, WRITE, _appointment_resource(held), what="appointment")
        if held.status == "booked" and await _accepted_before(uow, held.id):
            return _accepted(held)
        if held.status == "released" and held.ended_reason == "hold_expired":
            raise HoldExpired(N_("the offer expired and the seat went to the next person"))
        if held.status != "held":
            raise NotHeld(N_("this appointment is not an offer waiting for an answer"))
        if held.hold_expires_at is None or held.hold_expires_at <= now:
            raise HoldExpired(N_("the offer expired and the seat went to the next person"))
        result = await uow.session.execute(
            update(Appointment)
            .where(
                Appointment.id == held.id,
                Appointment.tenant_id == tenant.id,
                Appointment.status == "held",
                Appointment.version == held.version,
                Appointment.hold_expires_at > now,
            )
            .values(
                status="booked",
                hold_expires_at=None,
                updated_at=now,
                version=Appointment.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if affected(result) != 1:
            raise HoldExpired(N_("the offer expired and the seat went to the next person"))
        await uow.session.execute(
            update(WaitlistEntry)
            .where(
                WaitlistEntry.tenant_id == tenant.id,
                WaitlistEntry.appointment_id == held.id,
                WaitlistEntry.status == "offered",
            )
            .values(status="booked", updated_at=now, version=WaitlistEntry.version + 1)
            .execution_options(synchronize_session=False)
        )
        await appointment_event(uow, APPOINTMENT_BOOKED, held.id, held.beneficiary_id)
        await audit.record(
            uow,
            by=actor.principal,
            action="appointment.accept_offer",
            object_type="beneficiary",
            object_id=held.beneficiary_id,
            details={"appointment_id": str(held.id)},
        )
        return _accepted(held)


async def _accepted_before(uow: UnitOfWork, appointment_id: uuid.UUID) -> bool:
    found = await uow.session.scalar(
        select(WaitlistEntry.id).where(
            WaitlistEntry.appointment_id == appointment_id, WaitlistEntry.status == "booked"
        )
    )
    return found is not None


def _accepted(appointment: Appointment) -> AcceptedOut:
    return AcceptedOut(
        appointment_id=appointment.id,
        beneficiary_id=appointment.beneficiary_id,
        status="booked",
        booking_code=appointment.booking_code,
        slot_id=appointment.slot_id,
        starts_at=appointment.starts_at,
    )
