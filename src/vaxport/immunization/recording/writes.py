"""What recording writes: the dose, its audit entry, its ``dose.recorded`` event (and
the kept answer), with the person marked vaccinated, as one batch of statements.

The person is marked in the same statement, by a conditional UPDATE of their row: it
takes the row's lock, so an erasure (which locks it and checks ``vaccinated_at``) either
went first, and the dose finds no one and writes nothing, or waits and finds the person
vaccinated. The dose's rows depend on that UPDATE (``if_found``).

:func:`write_many` does the same for many doses of different people (an offline sync's
chunk) in one statement on PostgreSQL: the people marked by one UPDATE over their ids;
all or nothing, the caller learning from the count whether everyone was marked.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table

from vaxport.core import audit
from vaxport.core.crypto import KeySession, seal_new
from vaxport.core.db import Rows, UnitOfWork, write_batch
from vaxport.core.errors import NotFound
from vaxport.core.i18n import N_
from vaxport.core.idempotency import Keep
from vaxport.core.outbox import OutboxEvent, event_row
from vaxport.identity.service import Actor
from vaxport.immunization.events import DOSE_RECORDED, dose_payload
from vaxport.immunization.models import Dose
from vaxport.immunization.schemas import DoseOut
from vaxport.registration import service as registration
from vaxport.scheduling import service as scheduling

__all__ = ["write_many", "write_one", "write_rows"]

DOSES = cast(Table, Dose.__table__)
OUTBOX = cast(Table, OutboxEvent.__table__)


def _rows(uow: UnitOfWork, actor: Actor, rows: Sequence[Dose], device_id: str | None) -> list[Rows]:
    """The doses (sealed already), their events and audit entries, written ``if_found``."""
    entries: list[audit.EntryFields] = []
    for row in rows:
        details: dict[str, object] = {"beneficiary_id": str(row.beneficiary_id)}
        if row.overridden:
            details["overridden"] = True  # the reason is on the row, encrypted
        if row.appointment_id is not None:
            details["appointment_id"] = str(row.appointment_id)
        if device_id is not None:
            details |= {"source": "offline", "device_id": device_id}
        entries.append(
            {"action": "dose.record", "object_type": "dose", "object_id": row.id,
             "details": details}
        )  # fmt: skip
    table, audited = audit.entry_rows(uow, by=actor.principal, entries=entries)
    return [
        Rows(DOSES, [{c.key: r.__dict__.get(c.key) for c in DOSES.c} for r in rows], if_found=True),
        Rows(OUTBOX, [event_row(uow, DOSE_RECORDED, dose_payload(r)) for r in rows], if_found=True),
        Rows(table, audited, if_found=True),
    ]


async def write_one(
    uow: UnitOfWork,
    actor: Actor,
    row: Dose,
    *,
    device_id: str | None,
    keep: Keep[DoseOut] | None = None,
    out: DoseOut | None = None,
    completing: scheduling.AppointmentFacts | None = None,
) -> bool:
    """The dose, its audit entry, its event and the kept answer: one batch (404 when
    the person is gone meanwhile: erased or merged). ``completing``: the appointment
    the dose completes, at the version read, in the same batch (scheduling's UPDATE and
    event); False when it had changed since: only the kept answer is written, and the
    caller completes it the long way, then writes the dose with :func:`write_rows`."""

    def seal(s: KeySession) -> list[Rows]:
        seal_new(s, row)
        return [keep.render(s, out)] if keep is not None and out is not None else []

    first = await uow.run_sync(seal)
    marking, params = registration.marking_vaccinated(
        row.tenant_id, row.beneficiary_id, row.administered_at
    )
    rows = [*first, *_rows(uow, actor, [row], device_id)]
    guards = []
    if completing is not None:
        guard, values, event = scheduling.completion(uow, completing)
        guards, params, rows = [guard], params | values, [*rows, event]
    marked = await write_batch(uow, rows, query=marking, params=params, guards=guards)
    if not marked:
        raise NotFound(N_("beneficiary not found"))  # erased or merged meanwhile
    if keep is not None:
        keep.claim.kept_with(uow)
    return completing is None or bool(marked[0][-1])


async def write_rows(uow: UnitOfWork, actor: Actor, row: Dose, *, device_id: str | None) -> None:
    """The dose (sealed by :func:`write_one` already), its audit entry and its event, the
    person marked again (their first dose's time kept): after a missed completion."""
    marking, params = registration.marking_vaccinated(
        row.tenant_id, row.beneficiary_id, row.administered_at
    )
    if not await write_batch(
        uow, _rows(uow, actor, [row], device_id), query=marking, params=params
    ):
        raise NotFound(N_("beneficiary not found"))


async def write_many(
    uow: UnitOfWork, actor: Actor, rows: Sequence[Dose], device_id: str | None
) -> bool:
    """The doses of different people, with their events and audit entries: one batch on
    PostgreSQL (elsewhere one each). False when someone was not marked (gone meanwhile):
    then rows may have been written, and the caller rolls the batch back."""
    if not rows:
        return True
    if uow.dialect.name != "postgresql":
        for row in rows:
            try:
                await write_one(uow, actor, row, device_id=device_id)
            except NotFound:
                return False
        return True

    def seal(s: KeySession) -> None:
        for row in rows:
            seal_new(s, row)

    await uow.run_sync(seal)
    tenant_id = rows[0].tenant_id
    marks = [(r.beneficiary_id, r.administered_at) for r in rows]
    if len({p for p, _ in marks}) != len(marks):
        raise ValueError("a batch marks each person once")
    marking, params = registration.marking_many_vaccinated(tenant_id, marks)
    marked: list[uuid.UUID] = [
        r[0] for r in await write_batch(
            uow, _rows(uow, actor, rows, device_id), query=marking, params=params
        )
    ]  # fmt: skip
    return len(marked) == len(rows)
