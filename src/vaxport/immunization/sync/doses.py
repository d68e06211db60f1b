"""A sync batch's dose records: recorded ``DOSE_CHUNK`` to a transaction.

Each chunk's doses are read by one statement and written by one batch
(``recording.batch``: the round trips of one online dose for 50); the few that take the
long way (a merged record, an appointment, a dose met recorded) are then recorded one by
one, each in a savepoint of the chunk's transaction, sharing what they read (centres'
regions, lots: :class:`~vaxport.immunization.checks.Lookups`). A dose whose person,
series and number was recorded meanwhile (online elsewhere) waits in the review queue
(``conflicts.py``), answered ``conflict`` with the existing dose's id.
"""

from __future__ import annotations

import datetime as dt
import uuid

from vaxport.core.db import UnitOfWork
from vaxport.core.errors import NotFound, Problem
from vaxport.immunization.checks import DoseTaken, Lookups
from vaxport.immunization.recording import Offline, record_in
from vaxport.immunization.recording.batch import record_many_in
from vaxport.immunization.schemas import DoseFields, DoseIn, DoseOut
from vaxport.immunization.sync.answers import (
    Batch,
    Known,
    answered_before,
    doses_of,
    rejection,
)
from vaxport.immunization.sync.conflicts import hold_for_review
from vaxport.immunization.sync.schemas import DoseRecord

__all__ = ["DOSE_CHUNK", "apply_doses"]

# Savepoints per transaction: PostgreSQL caches 64 subtransactions per backend; past
# that, every snapshot check reads pg_subtrans (a known cliff), so stay under it.
DOSE_CHUNK = 50
_DOSE_FIELDS = tuple(DoseFields.model_fields)


def _person_of(
    batch: Batch, index: int, rec: DoseRecord, walk_ins: dict[uuid.UUID, int]
) -> uuid.UUID | None:
    """The dose's person: by id, or the walk-in of this batch (or an earlier one: its id
    is its UUID); None when the record is answered already (rejected)."""
    if rec.beneficiary_id is not None and rec.person_client_id is not None:
        batch.reject(index, rec, rejection("person-twice"))
        return None
    if rec.beneficiary_id is not None:
        return rec.beneficiary_id
    if rec.person_client_id is None:
        batch.reject(index, rec, rejection("person-missing"))
        return None
    position = walk_ins.get(rec.person_client_id)
    walk_in = batch.results[position] if position is not None else None
    if walk_in is not None and walk_in.outcome == "rejected" and walk_in.error is not None:
        batch.reject(index, rec, rejection("walk-in-rejected", why=walk_in.error.reason))
        return None
    return rec.person_client_id


async def apply_doses(
    batch: Batch, doses: list[tuple[int, DoseRecord]], walk_ins: dict[uuid.UUID, int]
) -> None:
    """Record each dose in a savepoint, ``DOSE_CHUNK`` to a transaction."""
    todo: list[tuple[int, DoseRecord, DoseIn]] = []
    for i, rec in doses:
        person = _person_of(batch, i, rec, walk_ins)
        if person is not None:
            fields = {name: getattr(rec, name) for name in _DOSE_FIELDS}
            todo.append((i, rec, DoseIn.model_construct(beneficiary_id=person, **fields)))
    lookups = Lookups()  # what the doses answered one by one read, kept for the next
    for start in range(0, len(todo), DOSE_CHUNK):
        chunk = todo[start : start + DOSE_CHUNK]
        async with batch.db.transaction(tenant_id=batch.tenant.id) as uow:
            done = await record_many_in(
                uow,
                tenant=batch.tenant,
                actor=batch.actor,
                items=[(body, _offline(batch, rec)) for _, rec, body in chunk],
                now=batch.now,
            )
            for (i, rec, body), result in zip(chunk, done, strict=True):
                if result is None:
                    await _one_dose(batch, uow, i, rec, body, lookups)
                else:
                    _answer_dose(batch, i, rec, result)
            await _settle_refused(batch, uow, [(i, rec) for i, rec, _ in chunk])


async def _settle_refused(
    batch: Batch, uow: UnitOfWork, chunk: list[tuple[int, DoseRecord]]
) -> None:
    """A dose refused because its own record was written meanwhile (the same record sent
    by another device at once, after this upload looked for it: its next dose is then
    too early) is answered as that record's resend (``duplicate``), as it would be had it
    come a moment later."""
    refused = {
        rec.client_id: (i, rec)
        for i, rec in chunk
        if (answer := batch.results[i]) is not None and answer.outcome == "rejected"
    }
    if not refused:
        return
    written = await doses_of(uow.session, batch.tenant.id, list(refused))
    known = Known(people={}, doses=written, conflicts={})
    for client_id in written:
        i, rec = refused[client_id]
        answered_before(batch, i, rec, known)


def _offline(batch: Batch, rec: DoseRecord) -> Offline:
    return Offline(rec.client_id, rec.device_time.astimezone(dt.UTC), batch.device_id)


def _answer_dose(batch: Batch, index: int, rec: DoseRecord, result: DoseOut | Problem) -> None:
    if isinstance(result, NotFound):
        # Unknown, erased, another tenant's or out of reach: one answer for all.
        batch.reject(index, rec, rejection("unknown-person"))
    elif isinstance(result, Problem):
        batch.reject(index, rec, result)
    else:
        batch.answer(
            index,
            rec,
            outcome="accepted",
            id=result.id,
            beneficiary_id=result.beneficiary_id,
            dose_number=result.dose_number,
        )


async def _one_dose(  # noqa: PLR0917 - one record and where it goes
    batch: Batch,
    uow: UnitOfWork,
    index: int,
    rec: DoseRecord,
    body: DoseIn,
    lookups: Lookups,
) -> None:
    try:
        async with uow.savepoint():
            out = await record_in(
                uow,
                tenant=batch.tenant,
                actor=batch.actor,
                body=body,
                now=batch.now,
                offline=_offline(batch, rec),
                lookups=lookups,
            )
    except DoseTaken as taken:
        await _taken(batch, uow, index, rec, body, taken, lookups)
    except Problem as problem:
        _answer_dose(batch, index, rec, problem)
    else:
        _answer_dose(batch, index, rec, out)


async def _taken(  # noqa: PLR0917 - one record and what it met
    batch: Batch,
    uow: UnitOfWork,
    index: int,
    rec: DoseRecord,
    body: DoseIn,
    taken: DoseTaken,
    lookups: Lookups,
) -> None:
    """The dose met a recorded one: its own row (a concurrent resend), or another
    (recorded meanwhile elsewhere) beside which it waits for review."""
    written = await doses_of(uow.session, batch.tenant.id, [rec.client_id])
    if answered_before(batch, index, rec, Known(people={}, doses=written, conflicts={})):
        return  # its own row (a concurrent resend), or another account's UUID
    # The checks reached the schedule: the centre was resolved (and remembered) first.
    facility_id = body.facility_id or batch.actor.facility_id
    assert facility_id is not None
    held = await hold_for_review(
        uow,
        tenant=batch.tenant,
        actor=batch.actor,
        device_id=batch.device_id,
        client_id=rec.client_id,
        body=body,
        taken=taken,
        administered_at=(body.administered_at or rec.device_time).astimezone(dt.UTC),
        device_time=rec.device_time.astimezone(dt.UTC),
        facility_id=facility_id,
        region_code=lookups.regions[facility_id] or "",
    )
    if held is None:  # the dose it met is gone (voided meanwhile): a retry records it
        batch.reject(index, rec, taken.problem)
        return
    batch.answer(
        index,
        rec,
        outcome="conflict",
        existing_id=held.existing_dose_id,
        conflict_id=held.id,
        beneficiary_id=held.beneficiary_id,
        dose_number=held.dose_number,
    )
