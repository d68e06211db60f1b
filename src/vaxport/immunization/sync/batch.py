"""Applying an offline device's batch: walk-ins, then doses, each answered alone.

Idempotency. Every record carries the device's UUID for it (``client_id``) and that UUID
*is* the id of what it creates: the walk-in's person, the dose record (a dose's id may be
client-chosen, see ``models.py``). A resent record therefore meets its own row by
primary key, whatever the route it came by or however the first upload ended (answered,
timed out, or cut mid-batch): no receipt table to keep in step with the rows, nothing
written twice, and a walk-in synced in an earlier batch is named by a later dose's
``person_client_id`` directly. The answer to a resend is ``duplicate`` with the same ids.
Only the account that wrote a row is answered ``duplicate`` about it: anyone else
sending its UUID is refused (``client-id-taken``) without learning what it is.

Isolation. A record failing its checks is ``rejected`` with the problem recording or
registration raises (type, field, reason) and nothing of it is written; walk-ins are
written together (one batch of statements per chunk) and, if that fails (a document
registered already), one by one; each dose goes in a savepoint of its chunk's
transaction, so one failing write never takes another with it. A dose whose person,
series and number was recorded meanwhile (online elsewhere) is not written over it: it
waits in the review queue (``conflicts.py``), answered ``conflict`` with the existing
dose's id, now and on every resend.

Speed. 5,000 records in one request: the known ids in three queries, walk-ins 200 to a
statement batch; doses 50 to a transaction, each chunk's reads one statement and its
writes one batch (``recording.batch``: the round trips of one online dose for 50),
the few doses that take the long way (a merged record, an appointment, a conflict)
then one by one in a savepoint, sharing what they read (centres' regions, lots:
:class:`~vaxport.immunization.checks.Lookups`).

Here: the batch parsed, the UUIDs earlier uploads wrote, the walk-ins and the upload's
audit entry; the doses in ``doses.py``; the answers (and a resend's) in ``answers.py``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from vaxport.core import audit
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.errors import (
    Forbidden,
    Problem,
    ValidationFailed,
    from_validation,
)
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor
from vaxport.immunization.sync.answers import (
    Batch,
    Known,
    answered_before,
    doses_of,
    rejection,
)
from vaxport.immunization.sync.doses import apply_doses
from vaxport.immunization.sync.models import SyncConflict
from vaxport.immunization.sync.schemas import (
    RECORD,
    DoseRecord,
    SyncBatchOut,
    SyncEnvelope,
    WalkInRecord,
)
from vaxport.registration import service as registration
from vaxport.tenancy.service import TenantInfo

__all__ = ["DEVICE_AHEAD", "apply_batch"]

# A device clock further ahead than this is wrong: its records' times cannot be trusted.
DEVICE_AHEAD = dt.timedelta(hours=24)
WALK_IN_CHUNK = 200  # one statement on PostgreSQL (under its 32,767 parameters)


async def apply_batch(
    *, db: Database, tenant: TenantInfo, actor: Actor, envelope: SyncEnvelope
) -> SyncBatchOut:
    """Apply each record of the device's batch; the answer of each, in the order sent."""
    if actor.kind != "staff":
        raise Forbidden(N_("offline sync is for vaccination staff"))
    batch = Batch(db, tenant, actor, envelope.device_id, utcnow(), [None] * len(envelope.records))
    walk_ins, doses = _parse(batch, envelope.records)
    known = await _known(batch, walk_ins, doses)
    walk_ins = [(i, r) for i, r in walk_ins if not answered_before(batch, i, r, known)]
    doses = [(i, r) for i, r in doses if not answered_before(batch, i, r, known)]
    await _apply_walk_ins(batch, walk_ins)
    await apply_doses(batch, doses, {r.client_id: i for i, r in walk_ins})
    results = [r for r in batch.results if r is not None]
    counts: Counter[str] = Counter(r.outcome for r in results)
    async with db.transaction(tenant_id=tenant.id) as uow:
        await audit.record(
            uow,
            by=actor.principal,
            action="sync.upload",
            object_type="device",
            object_id=None,
            details={"device_id": envelope.device_id, "records": len(results), **counts},
        )
    return SyncBatchOut(
        device_id=envelope.device_id,
        counts={k: counts.get(k, 0) for k in ("accepted", "duplicate", "conflict", "rejected")},
        results=results,
    )


def _parse(
    batch: Batch, raws: Sequence[dict[str, Any]]
) -> tuple[list[tuple[int, WalkInRecord]], list[tuple[int, DoseRecord]]]:
    """Each record checked alone: its shape, a UUID used once, the device's clock."""
    walk_ins: list[tuple[int, WalkInRecord]] = []
    doses: list[tuple[int, DoseRecord]] = []
    seen: set[uuid.UUID] = set()
    for i, raw in enumerate(raws):
        try:
            rec = RECORD.validate_python(raw)
        except ValidationError as exc:
            errors = [e | {"loc": _untagged(e["loc"])} for e in exc.errors()]
            batch.reject(i, None, ValidationFailed(errors=from_validation(errors)), raw=raw)
            continue
        if rec.client_id in seen:
            batch.reject(i, rec, rejection("client-id-repeated"))
            continue
        seen.add(rec.client_id)
        if rec.device_time > batch.now + DEVICE_AHEAD:
            batch.reject(i, rec, rejection("device-clock-ahead"))
        elif isinstance(rec, WalkInRecord):
            walk_ins.append((i, rec))
        else:
            doses.append((i, rec))
    return walk_ins, doses


async def _known(
    batch: Batch,
    walk_ins: list[tuple[int, WalkInRecord]],
    doses: list[tuple[int, DoseRecord]],
) -> Known:
    person_ids = [r.client_id for _, r in walk_ins]
    dose_ids = [r.client_id for _, r in doses]
    tid = batch.tenant.id
    async with batch.db.read(tenant_id=tid) as s:
        found = await s.execute(registration.created_by_of(tid, person_ids))
        people: dict[uuid.UUID, uuid.UUID | None] = dict(found.all())
        conflict_rows = await s.execute(
            select(
                SyncConflict.client_id,
                SyncConflict.id,
                SyncConflict.existing_dose_id,
                SyncConflict.beneficiary_id,
                SyncConflict.submitted_by,
            ).where(SyncConflict.tenant_id == tid, SyncConflict.client_id.in_(dose_ids))
        )
        return Known(
            people=people,
            doses=await doses_of(s, tid, dose_ids),
            conflicts={c: (i, e, p, by) for c, i, e, p, by in conflict_rows},
        )


async def _apply_walk_ins(batch: Batch, walk_ins: list[tuple[int, WalkInRecord]]) -> None:
    """Check each walk-in, then register the good ones a chunk at a time."""
    checked: list[tuple[int, WalkInRecord, registration.NewMember]] = []
    for i, rec in walk_ins:
        try:
            new = await registration.check_walk_in(
                db=batch.db,
                tenant=batch.tenant,
                actor=batch.actor,
                body=rec.person,
                person_id=rec.client_id,
            )
        except Problem as problem:
            batch.reject(i, rec, problem, prefix="person.")
            continue
        checked.append((i, rec, new))
    details: dict[str, object] = {"source": "offline", "device_id": batch.device_id}
    for start in range(0, len(checked), WALK_IN_CHUNK):
        chunk = checked[start : start + WALK_IN_CHUNK]
        try:
            async with batch.db.transaction(tenant_id=batch.tenant.id) as uow:
                await registration.add_walk_ins(
                    uow,
                    tenant=batch.tenant,
                    actor=batch.actor,
                    walk_ins=[new for _, _, new in chunk],
                    details=details,
                )
        except (registration.AlreadyRegistered, IntegrityError):
            await _walk_ins_one_by_one(batch, chunk, details)
            continue
        for i, rec, _ in chunk:
            batch.answer(i, rec, outcome="accepted", id=rec.client_id, beneficiary_id=rec.client_id)


async def _walk_ins_one_by_one(
    batch: Batch,
    chunk: list[tuple[int, WalkInRecord, registration.NewMember]],
    details: dict[str, object],
) -> None:
    """A chunk that failed together, each walk-in in a savepoint of its own."""
    async with batch.db.transaction(tenant_id=batch.tenant.id) as uow:
        for i, rec, new in chunk:
            try:
                await registration.add_walk_ins(
                    uow, tenant=batch.tenant, actor=batch.actor, walk_ins=[new], details=details
                )
            except registration.AlreadyRegistered as problem:
                batch.reject(i, rec, problem, prefix="person.")
            except IntegrityError:
                batch.reject(i, rec, rejection("client-id-taken"))
            else:
                batch.answer(
                    i, rec, outcome="accepted", id=rec.client_id, beneficiary_id=rec.client_id
                )


def _untagged(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """A field's location without the union's tag (``dose.product_id``: ``product_id``)."""
    return loc[1:] if loc and loc[0] in ("walk_in", "dose") else loc
