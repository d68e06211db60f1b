"""A person seen because a dose was recorded: the appointment read and completed inside
the dose's own statements (immunization's one read and one batch), not by three more.

Immunization's front door to this: :func:`appointment_read`, the appointment (by id or
booking code) as a subquery of its read; :class:`AppointmentFacts`, what it checks; and
:func:`completion`, the conditional UPDATE that completes it at the version read (as
:func:`~vaxport.scheduling.appointments.end` does: a completed seat was used, so none goes
back to its slot) with its ``appointment.completed`` event, both for the dose's
:func:`~vaxport.core.db.write_batch` (the UPDATE as a guard the dose's rows depend on).
When the guard finds nothing (the appointment changed since it was read: cancelled,
completed by staff meanwhile), the dose's writer takes the long way, :func:`.marks.complete_in`
over the appointment as it stands, which answers exactly as if it had come later.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Integer, Subquery, Table, Uuid, bindparam, select, update
from sqlalchemy.sql.dml import ReturningUpdate

from vaxport.core.clock import utcnow
from vaxport.core.db import Rows, UnitOfWork, UTCDateTime
from vaxport.core.errors import ValidationFailed
from vaxport.core.outbox import OutboxEvent, event_row
from vaxport.scheduling.attendance.day import normalise_code
from vaxport.scheduling.attendance.marks import COMPLETABLE
from vaxport.scheduling.events import APPOINTMENT_COMPLETED
from vaxport.scheduling.models import Appointment

__all__ = ["AppointmentFacts", "appointment_read", "booking_code_of", "completion", "facts"]

OUTBOX = cast(Table, OutboxEvent.__table__)


@dataclass(frozen=True, slots=True)
class AppointmentFacts:
    """The appointment as the dose's read found it."""

    id: uuid.UUID
    beneficiary_id: uuid.UUID
    product_id: str
    status: str
    version: int


def appointment_read(
    tenant_id: ColumnElement[uuid.UUID], by: str, value: ColumnElement[Any]
) -> Subquery:
    """The appointment whose id (``by="id"``) or normalised booking code (``by="code"``) is
    ``value``, as a subquery of at most one row with :class:`AppointmentFacts`' columns
    (the caller joins it ``ON true`` and reads them back with :meth:`facts`)."""
    a = Appointment
    which = a.id == value if by == "id" else a.booking_code == value
    return (
        select(a.id, a.beneficiary_id, a.product_id, a.status, a.version)
        .where(a.tenant_id == tenant_id, which)
        .limit(1)
        .subquery("appointment")
    )


def facts(values: Sequence[Any]) -> AppointmentFacts | None:
    """The appointment from :func:`appointment_read`'s columns (None: no such one)."""
    return None if values[0] is None else AppointmentFacts(*values)


def booking_code_of(code: str) -> str | None:
    """A booking code as stored (as read aloud: any case, O for 0...); None when ``code``
    cannot be one."""
    try:
        return normalise_code(code)
    except ValidationFailed:
        return None


def completion(
    uow: UnitOfWork, appointment: AppointmentFacts
) -> tuple[ReturningUpdate[Any], dict[str, Any], Rows]:
    """The UPDATE completing ``appointment`` at the version read (its parameters named
    ``ap_*``) and its ``appointment.completed`` event, written only when it hits."""
    now = utcnow()
    params = {
        "ap_tenant": uow.tenant_id,
        "ap_id": appointment.id,
        "ap_version": appointment.version,
        "ap_now": now,
    }
    payload = {
        "appointment_id": str(appointment.id),
        "beneficiary_id": str(appointment.beneficiary_id),
    }
    event = Rows(OUTBOX, [event_row(uow, APPOINTMENT_COMPLETED, payload)], if_found=True)
    return _completing(), params, event


@functools.cache
def _completing() -> ReturningUpdate[Any]:
    # Built once; as appointments.end(status="completed"): no seat goes back.
    a = Appointment
    now = bindparam("ap_now", None, type_=UTCDateTime())
    return (
        update(a)
        .where(
            a.tenant_id == bindparam("ap_tenant", None, type_=Uuid()),
            a.id == bindparam("ap_id", None, type_=Uuid()),
            a.version == bindparam("ap_version", None, type_=Integer()),
            a.status.in_(COMPLETABLE),
        )
        .values(
            status="completed",
            ended_reason="completed",
            ended_at=now,
            updated_at=now,
            hold_expires_at=None,
            version=a.version + 1,
        )
        .returning(a.id)
    )
