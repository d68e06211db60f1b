"""Booking, rescheduling and cancelling appointments (the use cases behind the API).

**Book.** A citizen books for a member of their own account; staff holding
``appointments:write`` book for a person in their reach (registration decides who that
is). The seat gate (``gate.py``) may turn the request away first when the slot is full;
then, in one transaction: the person, the slot, the person's history, the rules
(``eligibility.py``: the schedule engine on the slot's day, the session's own rules, the
tenant's booking limits), and the seat taken with the appointment (``appointments.book_in``:
one conditional UPDATE, never read-then-write). A concurrent second booking of the same
dose meets the one-live-appointment-per-dose index and answers 409 ``already-booked``.

**Reschedule.** One transaction: the appointment, the new slot's rules (the same disease;
the appointment being replaced does not count against the person), both slots locked in
id order (two people swapping slots cannot deadlock), the old appointment ended
(``cancelled``, reason ``rescheduled``), the new seat taken with ``replaces_id``. The old
must end before the new row is written (the index allows one live appointment per dose);
a full new slot rolls the whole transaction back, so the person keeps the old seat:
never both lost, never both held.

**Cancel.** Before the tenant's ``booking.cancel_cutoff_hours`` for citizens; staff may
cancel later (the centre calls the person, a session runs late), and the audit entry
says so. Cancelling a cancelled appointment changes nothing (204 again).

After each commit, search is told seats changed (``availability.slots_changed``) and the
gate gets freed seats back. Staff acts are audited; the answer of a booking or a
reschedule is kept with its ``Idempotency-Key`` in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import Uuid, bindparam, select
from sqlalchemy.exc import IntegrityError

from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork, fetch_in, write_batch
from vaxport.core.errors import Conflict, Problem, invalid
from vaxport.core.i18n import N_
from vaxport.core.idempotency import Claim, Keep, kept_created
from vaxport.identity.service import Actor
from vaxport.registration import service as registration
from vaxport.scheduling.appointments import Seat, book_in, end
from vaxport.scheduling.availability import slots_changed
from vaxport.scheduling.booking_schemas import AppointmentIn, AppointmentOut, RescheduleIn
from vaxport.scheduling.eligibility import Refusal, SlotView, history_of, refusals
from vaxport.scheduling.events import APPOINTMENT_CANCELLED
from vaxport.scheduling.gate import gate_for
from vaxport.scheduling.models import LIVE_STATUSES, Appointment, Slot
from vaxport.scheduling.models import Session as SessionRow
from vaxport.scheduling.reach import appointment_out, audit_staff, in_reach, is_staff, local_today
from vaxport.scheduling.refusals import (
    AppointmentEnded,
    CutoffPassed,
    refused,
    slot_full,
    slot_not_bookable,
)
from vaxport.scheduling.release import release_state, window_end
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantInfo

__all__ = ["book", "cancel", "kept_answer", "reschedule"]

WRITE = "appointments:write"
# A new booking code is drawn when one collides with a live code (about 1 in 10^5 at
# ten million appointments); past this many tries the error is real.
CODE_ATTEMPTS = 3
# What the first of two requests with one Idempotency-Key leaves for the second to meet.
_RETRIED = frozenset({"already-booked", "appointment-ended"})
CHANGED = N_("the appointment changed meanwhile: read it again and retry")


def kept_answer(claim: Claim | None, location: str) -> Keep[AppointmentOut] | None:
    """The request's Idempotency-Key kept with the booking: 201, the appointment, and
    ``Location`` = ``location`` + its id (sealed under the person's key)."""
    return kept_created(claim, location, lambda out: out.beneficiary_id)


@dataclass(slots=True)
class _Ticket:
    """What a use case tells the gate once its transaction committed."""

    seats_left: int | None = None  # after its booking, as the slot's row said


@asynccontextmanager
async def _through_gate(
    cache: Cache, settings: Settings, tenant_id: uuid.UUID, slot_id: uuid.UUID
) -> AsyncIterator[_Ticket]:
    """Pass the seat gate for ``slot_id`` (409 ``slot-full`` at once when it says so),
    then keep it in step with what the block did (see ``gate.py``)."""
    ticket = _Ticket()
    gate = gate_for(cache, settings)
    if gate is None:
        yield ticket
        return
    admitted = await gate.admit(tenant_id, slot_id)
    if admitted is False:
        raise slot_full()
    try:
        yield ticket
    except Problem as problem:
        if problem.slug == "slot-full":
            await gate.full(tenant_id, slot_id)
        elif admitted:
            await gate.give_back(tenant_id, slot_id)
        raise
    except BaseException:
        if admitted:
            await gate.give_back(tenant_id, slot_id)
        raise
    if admitted is None and ticket.seats_left is not None:
        await gate.seed(tenant_id, slot_id, ticket.seats_left)


_SLOT = (
    select(
        Slot.session_id,
        Slot.product_id,
        Slot.day,
        Slot.starts_at,
        Slot.status,
        Slot.capacity - Slot.booked,
        SessionRow.status,
        SessionRow.dose_numbers,
        SessionRow.eligibility,
        SessionRow.release_at,
    )
    .join(SessionRow, SessionRow.id == Slot.session_id)
    .where(
        Slot.tenant_id == bindparam("slot_tenant", None, type_=Uuid()),
        Slot.id == bindparam("slot_id", None, type_=Uuid()),
    )
)


async def _slot(uow: UnitOfWork, tenant_id: uuid.UUID, slot_id: uuid.UUID) -> SlotView:
    """The slot and its session (one plain read: :data:`_SLOT`, compiled once)."""
    rows = await fetch_in(uow, _SLOT, {"slot_tenant": tenant_id, "slot_id": slot_id})
    if not rows:
        raise invalid(
            "slot_id", N_("is not a slot of this country: choose one from the search"),
            code="unknown-slot",
        )  # fmt: skip
    row = rows[0]
    session_id, product, day, starts_at, status, left, session_status, doses, rules, release = row
    return SlotView(
        id=slot_id,
        session_id=session_id,
        product_id=product,
        day=day,
        starts_at=starts_at,
        open=status == "open" and session_status == "open",
        dose_numbers=tuple(doses or ()),
        eligibility=rules or {},
        release_at=release,
        seats_left=int(left),
    )


def _check_open(tenant: TenantInfo, slot: SlotView, now: dt.datetime) -> None:
    """Refuse a slot that cannot be booked now, whoever asks."""
    if not slot.open:
        raise slot_not_bookable("slot-closed")
    if slot.starts_at <= now:
        raise slot_not_bookable("slot-started")
    if slot.release_at is not None and slot.release_at > now:
        raise slot_not_bookable("not-released-yet", on=slot.release_at)
    days = tenant.config.booking.days_ahead
    if slot.day > local_today(tenant, now) + dt.timedelta(days=days):
        raise slot_not_bookable("too-far-ahead", days=days)


async def _check_released(
    uow: UnitOfWork, tenant: TenantInfo, slot: SlotView, now: dt.datetime
) -> None:
    """A session released by draw takes no first-come booking until its draw is done:
    during the window people ask for tickets, and the draw must not find seats gone."""
    session = await uow.session.get(SessionRow, slot.session_id)
    if session is None:  # pragma: no cover - the slot's row names it
        raise slot_not_bookable("slot-closed")
    state = await release_state(uow.session, tenant, session, now=now)
    if state == "queue":
        raise slot_not_bookable("in-release-queue", on=window_end(tenant, session))
    if state == "drawing":
        raise slot_not_bookable("release-drawing")


async def _lock_slots(uow: UnitOfWork, tenant_id: uuid.UUID, *slot_ids: uuid.UUID) -> None:
    """Lock slot rows in id order (PostgreSQL; SQLite writers are serialized anyway)."""
    await uow.session.execute(
        select(Slot.id)
        .where(Slot.tenant_id == tenant_id, Slot.id.in_(sorted(slot_ids)))
        .order_by(Slot.id)
        .with_for_update()
    )


async def _take(
    uow: UnitOfWork,
    *,
    tenant: TenantInfo,
    actor: Actor,
    person: registration.PersonFacts,
    slot_id: uuid.UUID,
    replacing: Appointment | None = None,
) -> tuple[Appointment, int]:
    """Check the rules and take the seat (ending ``replacing`` first, in this transaction);
    the appointment and the seats the slot had left after it, as its row was read."""
    slot = await _slot(uow, tenant.id, slot_id)
    now = utcnow()
    _check_open(tenant, slot, now)
    if slot.release_at is not None:
        await _check_released(uow, tenant, slot, now)
    history = await history_of(
        uow, tenant.id, person, excluding=replacing.id if replacing is not None else None
    )
    offer, reasons = refusals(tenant.config, person, history, slot)
    if replacing is not None and offer is not None and offer.disease != replacing.series:
        reasons.append(Refusal("not-same-series"))
    if reasons or offer is None:
        raise refused(reasons)
    if replacing is not None:
        await _lock_slots(uow, tenant.id, replacing.slot_id, slot_id)
        if not await end(uow, replacing, "cancelled", reason="rescheduled"):
            raise Conflict(CHANGED)
    seat = Seat(person.id, person.account_id, offer.disease, offer.dose_number, actor.account_id)
    row = await book_in(
        uow, tenant.id, slot_id, seat, replaces_id=replacing.id if replacing else None
    )
    if row is None:
        raise slot_full()
    return row, slot.seats_left - 1


async def _keep(uow: UnitOfWork, keep: Keep[AppointmentOut] | None, out: AppointmentOut) -> None:
    if keep is None:
        return
    rows = await uow.run_sync(lambda s: keep.render(s, out))
    await write_batch(uow, [rows])
    keep.claim.kept_with(uow)


def _collided_code(exc: IntegrityError) -> bool:
    return "booking_code" in str(exc.orig)


async def _settle_conflict(
    db: Database, keep: Keep[AppointmentOut] | None, exc: Exception
) -> Exception:
    """What a failed booking answers: its own retry's kept answer (``KeyTaken``) when the
    request's key was used meanwhile, else 409 ``already-booked`` for the index's refusal."""
    if keep is not None:
        if isinstance(exc, IntegrityError) and (taken := keep.claim.refused(exc)) is not None:
            return taken
        if (taken := await keep.claim.held(db)) is not None:
            return taken
    if isinstance(exc, IntegrityError):
        return refused([Refusal("already-booked")])
    return exc


async def book(
    *,
    db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    actor: Actor,
    body: AppointmentIn,
    keep: Keep[AppointmentOut] | None = None,
) -> AppointmentOut:
    """Take a seat of ``body.slot_id`` for ``body.beneficiary_id``; the new appointment."""
    async with _through_gate(cache, settings, tenant.id, body.slot_id) as ticket:
        for attempt in range(CODE_ATTEMPTS):
            try:
                async with db.transaction(tenant_id=tenant.id) as uow:
                    person = await registration.person_in_reach(
                        uow,
                        tenant=tenant,
                        actor=actor,
                        beneficiary_id=body.beneficiary_id,
                        permission=WRITE,
                    )
                    row, ticket.seats_left = await _take(
                        uow, tenant=tenant, actor=actor, person=person, slot_id=body.slot_id
                    )
                    await audit_staff(
                        uow, actor, "appointment.book", person.id, appointment=str(row.id)
                    )
                    out = appointment_out(row)
                    await _keep(uow, keep, out)
                    uow.after_commit(lambda: slots_changed(cache, tenant.id))
                return out
            except IntegrityError as exc:
                if _collided_code(exc) and attempt < CODE_ATTEMPTS - 1:
                    continue
                raise await _settle_conflict(db, keep, exc) from None
            except Problem as problem:
                if problem.slug in _RETRIED:
                    raise await _settle_conflict(db, keep, problem) from None
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _cutoff(tenant: TenantInfo, row: Appointment, actor: Actor, now: dt.datetime) -> bool:
    """Whether the change comes after the cutoff (refused for citizens; True: late)."""
    hours = tenant.config.booking.cancel_cutoff_hours
    late = now > row.starts_at - dt.timedelta(hours=hours)
    if late and not is_staff(actor):
        raise CutoffPassed(
            N_("appointments can be changed up to {hours} hours before they start; call the "
               "centre instead"),
            params={"hours": hours},
            hours=hours,
        )  # fmt: skip
    return late


async def reschedule(
    *,
    db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    actor: Actor,
    appointment_id: uuid.UUID,
    body: RescheduleIn,
    keep: Keep[AppointmentOut] | None = None,
) -> AppointmentOut:
    """Move an appointment to ``body.slot_id`` atomically; the new appointment."""
    moved_from: list[uuid.UUID] = []
    gate = gate_for(cache, settings)

    async def freed() -> None:
        await slots_changed(cache, tenant.id)
        if gate is not None:
            for slot_id in moved_from:
                await gate.give_back(tenant.id, slot_id)

    async with _through_gate(cache, settings, tenant.id, body.slot_id) as ticket:
        try:
            async with db.transaction(tenant_id=tenant.id) as uow:
                old = await in_reach(
                    uow, tenant=tenant, actor=actor, appointment_id=appointment_id,
                    permission=WRITE, lock=True,
                )  # fmt: skip
                if old.status != "booked":
                    raise AppointmentEnded(N_("only a booked appointment can be moved"))
                if old.slot_id == body.slot_id:
                    raise invalid("slot_id", N_("is the appointment's own slot: choose another"))
                late = _cutoff(tenant, old, actor, utcnow())
                person = await registration.person_in_reach(
                    uow, tenant=tenant, actor=actor, beneficiary_id=old.beneficiary_id,
                    permission=WRITE,
                )  # fmt: skip
                row, ticket.seats_left = await _take(
                    uow, tenant=tenant, actor=actor, person=person, slot_id=body.slot_id,
                    replacing=old,
                )  # fmt: skip
                details = {"appointment": str(row.id), "replaces": str(old.id), "late": late}
                await audit_staff(uow, actor, "appointment.reschedule", person.id, **details)
                out = appointment_out(row)
                await _keep(uow, keep, out)
                moved_from.append(old.slot_id)
                uow.after_commit(freed)
            return out
        except IntegrityError as exc:
            raise await _settle_conflict(db, keep, exc) from None
        except Problem as problem:
            if problem.slug in _RETRIED:
                raise await _settle_conflict(db, keep, problem) from None
            raise


async def cancel(
    *,
    db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    actor: Actor,
    appointment_id: uuid.UUID,
) -> None:
    """Cancel an appointment and free its seat (a cancelled one: nothing changes)."""
    gate = gate_for(cache, settings)
    async with db.transaction(tenant_id=tenant.id) as uow:
        row = await in_reach(
            uow, tenant=tenant, actor=actor, appointment_id=appointment_id, permission=WRITE,
            lock=True,
        )  # fmt: skip
        if row.status == "cancelled":
            return
        if row.status not in LIVE_STATUSES:
            raise AppointmentEnded(N_("this appointment is over: there is nothing to cancel"))
        late = _cutoff(tenant, row, actor, utcnow()) if row.status == "booked" else False
        if not await end(uow, row, "cancelled", event=APPOINTMENT_CANCELLED):
            raise Conflict(CHANGED)
        details = {"appointment": str(row.id), "late": late}
        await audit_staff(uow, actor, "appointment.cancel", row.beneficiary_id, **details)
        slot_id = row.slot_id

        async def freed() -> None:
            await slots_changed(cache, tenant.id)
            if gate is not None:
                await gate.give_back(tenant.id, slot_id)

        uow.after_commit(freed)
