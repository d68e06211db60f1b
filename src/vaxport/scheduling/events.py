"""Outbox events of the scheduling context (payloads carry ids only).

- ``session.published`` / ``session.changed`` / ``session.closed`` / ``session.cancelled``:
  ``{"session_id"}``.
- ``appointment.booked``: a seat was taken for a person ``{"appointment_id",
  "beneficiary_id"}``; ``appointment.rescheduled`` adds ``"replaces_id"`` (the
  appointment it replaced, now ended); ``appointment.cancelled`` (by the person or staff),
  ``appointment.released`` (the session was cancelled or the facility closed: the person
  is offered to rebook), ``appointment.completed``, ``appointment.no_show``,
  ``appointment.held`` / ``appointment.hold_expired`` (waitlist offers).

Messages (confirmation, reminder, cancellation, offers), the waitlist and, later,
analytics subscribe to these; the writer emits them in the act's own transaction.
"""

from __future__ import annotations

import uuid

from vaxport.core.db import UnitOfWork
from vaxport.core.outbox import emit

SESSION_PUBLISHED = "session.published"
SESSION_CHANGED = "session.changed"
SESSION_CLOSED = "session.closed"
SESSION_CANCELLED = "session.cancelled"
APPOINTMENT_BOOKED = "appointment.booked"
APPOINTMENT_RESCHEDULED = "appointment.rescheduled"
APPOINTMENT_CANCELLED = "appointment.cancelled"
APPOINTMENT_RELEASED = "appointment.released"
APPOINTMENT_COMPLETED = "appointment.completed"
APPOINTMENT_NO_SHOW = "appointment.no_show"
APPOINTMENT_HELD = "appointment.held"
APPOINTMENT_HOLD_EXPIRED = "appointment.hold_expired"
# Randomized release (scheduling/release.py): a session's draw was made
# ``{"session_id", "tickets", "winners"}`` (winners also get ``appointment.booked``); a
# ticket lost ``{"ticket_id", "session_id", "beneficiary_id", "outcome"}`` with
# ``outcome`` ``waitlisted``, ``full`` or ``ineligible``.
RELEASE_DRAWN = "release.drawn"
RELEASE_TICKET_LOST = "release.ticket_lost"


async def session_event(uow: UnitOfWork, event_type: str, session_id: uuid.UUID) -> None:
    """Add a session event to the unit of work's transaction."""
    await emit(uow, event_type, {"session_id": str(session_id)})


async def appointment_event(
    uow: UnitOfWork,
    event_type: str,
    appointment_id: uuid.UUID,
    beneficiary_id: uuid.UUID,
    *,
    replaces_id: uuid.UUID | None = None,
) -> None:
    """Add an appointment event to the unit of work's transaction."""
    payload = {"appointment_id": str(appointment_id), "beneficiary_id": str(beneficiary_id)}
    if replaces_id is not None:
        payload["replaces_id"] = str(replaces_id)
    await emit(uow, event_type, payload)
