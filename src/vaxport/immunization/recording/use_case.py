"""Recording a dose given at the point of care (the use case behind ``POST .../doses``).

A vaccinator (``doses:write``) records a dose for a person in their reach, at their own
centre (or one in their jurisdiction). Checked, each refusal its own problem type
(``refusals.py``): the time (not in the future, not before birth), the centre, the lot
(known, of this product, not expired on the day, not on hold), the dose number (the
schedule's next: a number already recorded is 409, one skipping ahead 422) and the
schedule engine on the dose's day over the person's recorded doses, those merged into
them included (product sequence, series and boosters; an interval too short, or an age
or group outside the rules, only with ``override.reason``, kept encrypted and audited).

What the checks read (the person and their key, the centre's region, the lot, the
history) is one statement (``reads.py``). Then, in the same transaction: the
appointment (by id or booking code) completed through scheduling's front door; and one
:func:`~vaxport.core.db.write_batch` (one round trip on PostgreSQL) in which a
conditional UPDATE of the person's row (registration) marks them vaccinated, which
serializes the dose with an erasure of the person, and only if it did, the dose row, its
audit entry and its ``dose.recorded`` event are written, beside the request's
``Idempotency-Key`` with the answer (a person gone meanwhile: 404, all rolled back). The
same dose twice meets the one-recorded-dose index whatever the interleaving: 409
``dose-already-recorded``.

The checks are shared with corrections (``checks.py``). :func:`record_in` makes them and
the writes in a caller's transaction: offline sync (``sync/``) records each dose of a
batch with it, under the device's UUID, the batch's reads shared (``checks.Lookups``,
for what the one statement leaves to the long way), and tells a dose recorded already
(``checks.DoseTaken``) from other refusals.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError

from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import Problem
from vaxport.core.idempotency import Claim, Keep, kept_created
from vaxport.core.ids import uuid7
from vaxport.core.outbox import OutboxEvent
from vaxport.identity.service import Actor, Resource, can
from vaxport.immunization.checks import (
    DoseTaken,
    Lookups,
    check_birth,
    check_found_lot,
    check_lot,
    check_schedule,
)
from vaxport.immunization.models import Dose
from vaxport.immunization.recording.reads import LotFacts, RecordingFacts, read_facts
from vaxport.immunization.recording.writes import write_one, write_rows
from vaxport.immunization.records import engine_person, recorded_doses
from vaxport.immunization.refusals import refusal
from vaxport.immunization.schemas import DoseIn, DoseOut
from vaxport.registration import service as registration
from vaxport.scheduling import service as scheduling
from vaxport.tenancy.service import TenantInfo

__all__ = [
    "FUTURE_SKEW",
    "Offline",
    "kept_answer",
    "record_dose",
    "record_in",
]

WRITE = "doses:write"
# A device's clock may run a little ahead of the server's.
FUTURE_SKEW = dt.timedelta(minutes=5)
DOSES = cast(Table, Dose.__table__)
OUTBOX = cast(Table, OutboxEvent.__table__)
# The appointment states a dose completes (a no-show may still come late); a completed
# one was marked seen by hand already.
_COMPLETABLE = ("booked", "no_show", "completed")
# What the checks read: the person, the centre, its region, the lot, the recorded doses.
_Read = tuple[registration.PersonFacts, uuid.UUID, str, LotFacts, tuple[scheduling.Dose, ...]]


@dataclass(frozen=True, slots=True)
class Offline:
    """A dose recorded on an offline device: its id is the device's UUID for the record
    (a resent record meets its own row), and the device's clock is kept as evidence."""

    dose_id: uuid.UUID
    device_recorded_at: dt.datetime
    device_id: str


def kept_answer(claim: Claim | None, location: str) -> Keep[DoseOut] | None:
    """The request's Idempotency-Key kept with the dose: 201, the dose, and ``Location`` =
    ``location`` + its id (sealed under the person's key)."""
    return kept_created(claim, location, lambda out: out.beneficiary_id)


def _check_shape(body: DoseIn) -> None:
    """One lot, at most one appointment reference."""
    if body.lot_id is not None and body.lot_number is not None:
        raise refusal("lot-twice")
    if body.lot_id is None and body.lot_number is None:
        raise refusal("lot-missing")
    if body.appointment_id is not None and body.booking_code is not None:
        raise refusal("appointment-twice")


async def _read(  # noqa: PLR0917 - what the dose's checks read, and a batch's reads
    uow: UnitOfWork,
    tenant: TenantInfo,
    actor: Actor,
    body: DoseIn,
    day: dt.date,
    seen: Lookups,
) -> tuple[_Read, RecordingFacts | None]:
    """The person, the centre and its region, the lot and the person's recorded doses,
    checked in this order: one statement (``reads``, its facts given back: the
    appointment named is among them), or the long way for what it leaves to
    registration (a merged record, whose survivor the ORM follows)."""
    facility_id = body.facility_id or actor.facility_id
    facts = await read_facts(
        uow, tenant=tenant, actor=actor, body=body, facility_id=facility_id, permission=WRITE
    )
    person = facts.person
    if person is None:
        person = await registration.person_in_reach(
            uow, tenant=tenant, actor=actor, beneficiary_id=body.beneficiary_id,
            permission=WRITE,
        )  # fmt: skip
        check_birth(person, day)
        facility_id, region = await _facility(uow, tenant, actor, facility_id, seen)
        row = await check_lot(
            uow.session, tenant.id, product_id=body.product_id, lot_id=body.lot_id,
            lot_number=body.lot_number, day=day, lookups=seen,
        )  # fmt: skip
        doses = await recorded_doses(uow, tenant.id, person.id)
        return (person, facility_id, region, LotFacts.of(row), doses), None
    if facility_id is not None:
        seen.regions.setdefault(facility_id, facts.region)  # a batch's reads keep it too
    facility_id, region, lot = check_read(tenant, actor, body, day, facts, person)
    return (person, facility_id, region, lot, facts.doses), facts


def _check_facility(
    tenant: TenantInfo, actor: Actor, facility_id: uuid.UUID | None, region: str | None
) -> str:
    """The region of the centre the dose was given at, when ``actor`` records there."""
    if facility_id is None:
        raise refusal("facility-required")
    where = Resource(tenant.id, region_code=region, facility_id=facility_id)
    if region is None or not can(actor, WRITE, where):
        raise refusal("facility-out-of-reach")
    return region


async def _facility(
    uow: UnitOfWork,
    tenant: TenantInfo,
    actor: Actor,
    facility_id: uuid.UUID | None,
    seen: Lookups,
) -> tuple[uuid.UUID, str]:
    """The centre the dose was given at (the vaccinator's own by default) and its region."""
    if facility_id is None:
        raise refusal("facility-required")
    region = await seen.region(uow.session, tenant.id, facility_id)
    return facility_id, _check_facility(tenant, actor, facility_id, region)


async def _appointment(
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    body: DoseIn,
    person: registration.PersonFacts,
) -> Any:
    """The appointment the dose completes, as it stands (the ORM's row), checked."""
    if body.appointment_id is not None:
        found = await scheduling.appointment_in(uow, tenant_id, body.appointment_id)
    else:
        found = await scheduling.appointment_by_code_in(uow, tenant_id, body.booking_code or "")
    return _check_appointment(body, person, found)


def _check_appointment(body: DoseIn, person: registration.PersonFacts, found: Any) -> Any:
    """``found`` (a row or the read's facts), when it is the person's appointment for this
    product, in a state a dose completes."""
    field = "appointment_id" if body.appointment_id is not None else "booking_code"
    if found is None:
        raise refusal("unknown-appointment", field=field)
    if found.beneficiary_id not in (person.id, body.beneficiary_id) or (
        found.product_id != body.product_id
    ):
        raise refusal("appointment-mismatch", field=field)
    if found.status not in _COMPLETABLE:
        raise refusal("appointment-not-completable", field=field, status=found.status)
    return found


async def record_dose(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    body: DoseIn,
    keep: Keep[DoseOut] | None = None,
) -> DoseOut:
    """Record the dose ``body`` describes; the dose record (201)."""
    now = utcnow()
    try:
        async with db.transaction(tenant_id=tenant.id) as uow:
            out = await record_in(uow, tenant=tenant, actor=actor, body=body, now=now, keep=keep)
        return out  # noqa: RET504 - once committed
    except DoseTaken as taken:
        if taken.error is not None:
            raise await _settle_conflict(db, keep, taken.error, taken.dose_number) from None
        raise await _refused(db, keep, taken.problem) from None
    except IntegrityError as exc:
        raise await _settle_conflict(db, keep, exc, body.dose_number or 0) from None
    except Problem as problem:
        raise await _refused(db, keep, problem) from None


async def record_in(
    uow: UnitOfWork,
    *,
    tenant: TenantInfo,
    actor: Actor,
    body: DoseIn,
    now: dt.datetime,
    keep: Keep[DoseOut] | None = None,
    offline: Offline | None = None,
    lookups: Lookups | None = None,
) -> DoseOut:
    """Check and write the dose ``body`` describes in ``uow`` (the caller's transaction).

    Raises the refusal (a :class:`Problem`, nothing written), :class:`DoseTaken` when the
    dose is recorded already. ``offline``: a synced record (its id, the device's clock;
    the time given defaults to the device's). ``lookups``: reads shared by a batch.
    """
    given_at, day = check_request(tenant, body, now, offline)
    seen = lookups if lookups is not None else Lookups()
    read, facts = await _read(uow, tenant, actor, body, day, seen)
    person, facility_id, region, lot, doses = read
    dose = Dose(id=offline.dose_id if offline is not None else uuid7())
    overridden = _check_offer(tenant, body, day, person, doses, dose)
    appointment_id, completing = None, None
    if body.appointment_id is not None or body.booking_code is not None:
        if facts is not None:  # read with the rest: completed in the dose's batch
            named = _check_appointment(body, person, facts.appointment)
            appointment_id, completing = named.id, named if named.status != "completed" else None
        else:
            found = await _appointment(uow, tenant.id, body, person)
            await scheduling.complete_in(uow, found)
            appointment_id = found.id
    row, out = _dose(
        dose, tenant, actor, body, now, offline, given_at, person, facility_id, region, lot,
        overridden, appointment_id,
    )  # fmt: skip
    device_id = offline.device_id if offline else None
    try:
        done = await write_one(
            uow, actor, row, device_id=device_id, keep=keep, out=out, completing=completing
        )
        if not done:
            # The appointment changed since it was read: as it stands now, the long way
            # (completed by staff meanwhile: the dose stands; cancelled: 409, all undone).
            await scheduling.complete_in(uow, await _appointment(uow, tenant.id, body, person))
            await write_rows(uow, actor, row, device_id=device_id)
    except IntegrityError as exc:
        raise _taken_by_index(exc, row) from None
    return out


def _taken_by_index(exc: IntegrityError, row: Dose) -> DoseTaken:
    """The one-recorded-dose index's refusal as :class:`DoseTaken`; other violations
    (the Idempotency-Key's claim: the caller settles it) raised as they are."""
    if "immunization_doses" not in str(exc.orig):
        raise exc
    problem = refusal("dose-already-recorded", dose_number=row.dose_number)
    return DoseTaken(
        problem,
        person_id=row.beneficiary_id,
        series=row.series,
        dose_number=row.dose_number,
        error=exc,
    )


def check_request(
    tenant: TenantInfo, body: DoseIn, now: dt.datetime, offline: Offline | None
) -> tuple[dt.datetime, dt.date]:
    """What is checked before anything is read: the request's shape, the product, the
    time (not in the future); the time given and its day in the tenant's zone."""
    _check_shape(body)
    if body.product_id not in tenant.config.products:
        raise refusal("unknown-product")
    default = offline.device_recorded_at if offline is not None else now
    given_at = (body.administered_at or default).astimezone(dt.UTC)
    if given_at > now + FUTURE_SKEW:
        raise refusal("administered-in-future")
    return given_at, scheduling.local_today(tenant, given_at)


def check_read(  # noqa: PLR0917 - the request and what was read for it
    tenant: TenantInfo,
    actor: Actor,
    body: DoseIn,
    day: dt.date,
    facts: RecordingFacts,
    person: registration.PersonFacts,
) -> tuple[uuid.UUID, str, LotFacts]:
    """The checks on what the one statement read (the person found): birth, the centre
    and its reach, the lot; the centre, its region and the lot."""
    check_birth(person, day)
    facility_id = body.facility_id or actor.facility_id
    region = _check_facility(tenant, actor, facility_id, facts.region)
    assert facility_id is not None  # checked: a region was found for it
    lot = check_found_lot(
        [facts.lot] if facts.lot is not None else [],
        product_id=body.product_id, by_id=body.lot_id is not None, day=day,
    )  # fmt: skip
    return facility_id, region, lot


def _check_offer(  # noqa: PLR0917 - the request and the person's history
    tenant: TenantInfo,
    body: DoseIn,
    day: dt.date,
    person: registration.PersonFacts,
    doses: tuple[scheduling.Dose, ...],
    dose: Dose,
) -> bool:
    """The schedule engine's offer on ``day`` checked against the dose number asked and
    an override; the series and number go on ``dose``; whether the override was used."""
    config = tenant.config
    offer = scheduling.assess_product(
        config, engine_person(config, person), doses, product_id=body.product_id, today=day
    )
    overridden = check_schedule(
        offer, dose_number=body.dose_number, override=body.override is not None,
        person_id=person.id,
    )  # fmt: skip
    dose.series, dose.dose_number = offer.disease, offer.dose_number
    return overridden


def checked_dose(  # noqa: PLR0917 - the request and what was read for it
    tenant: TenantInfo,
    actor: Actor,
    body: DoseIn,
    now: dt.datetime,
    offline: Offline | None,
    facts: RecordingFacts,
) -> tuple[Dose, DoseOut] | None:
    """:func:`record_in`'s checks on the facts a batch read for ``body``: the row and the
    answer to write; None when the long way must answer (a merged record, an
    appointment to complete). Raises the refusal, or :class:`DoseTaken`."""
    person = facts.person
    if person is None or body.appointment_id is not None or body.booking_code is not None:
        return None
    given_at, day = check_request(tenant, body, now, offline)
    facility_id, region, lot = check_read(tenant, actor, body, day, facts, person)
    dose = Dose(id=offline.dose_id if offline is not None else uuid7())
    overridden = _check_offer(tenant, body, day, person, facts.doses, dose)
    return _dose(
        dose, tenant, actor, body, now, offline, given_at, person, facility_id, region, lot,
        overridden, None,
    )  # fmt: skip


def _dose(  # noqa: PLR0917 - every value of the row
    row: Dose,
    tenant: TenantInfo,
    actor: Actor,
    body: DoseIn,
    now: dt.datetime,
    offline: Offline | None,
    given_at: dt.datetime,
    person: registration.PersonFacts,
    facility_id: uuid.UUID,
    region: str,
    lot: LotFacts,
    overridden: bool,
    appointment_id: uuid.UUID | None,
) -> tuple[Dose, DoseOut]:
    """The dose row (its id, series and number set already) and the answer."""
    row.tenant_id = tenant.id
    row.beneficiary_id = person.id
    row.product_id = body.product_id
    row.lot_id = lot.id
    row.administered_at = given_at
    row.day = scheduling.local_today(tenant, given_at)
    row.facility_id = facility_id
    row.region_code = region
    row.vaccinator_id = actor.account_id
    row.site = body.site
    row.route = body.route
    row.appointment_id = appointment_id
    row.overridden = overridden
    row.status = "recorded"
    row.source = "offline" if offline is not None else "online"
    row.device_recorded_at = offline.device_recorded_at if offline is not None else None
    row.recorded_by = actor.account_id
    row.voided_at = None
    row.voided_by = None
    row.version = 1
    row.created_at = now
    row.updated_at = now
    row.notes = body.notes
    row.override_reason = body.override.reason if overridden and body.override else None
    return row, _answer(row, lot, body, overridden)


def _answer(row: Dose, lot: LotFacts, body: DoseIn, overridden: bool) -> DoseOut:
    """The answer, from the values given (the row's personal fields are sealed next)."""
    return DoseOut(
        id=row.id,
        beneficiary_id=row.beneficiary_id,
        product_id=row.product_id,
        series=row.series,
        dose_number=row.dose_number,
        lot_id=lot.id,
        lot_number=lot.lot_number,
        administered_at=row.administered_at,
        day=row.day,
        facility_id=row.facility_id,
        region_code=row.region_code,
        vaccinator_id=row.vaccinator_id,
        site=row.site,
        route=row.route,
        notes=body.notes,
        appointment_id=row.appointment_id,
        overridden=overridden,
        override_reason=body.override.reason if overridden and body.override else None,
        status=row.status,
        source=row.source,
        version=row.version,
        created_at=row.created_at,
    )


async def _refused(db: Database, keep: Keep[DoseOut] | None, problem: Problem) -> Problem:
    """A refusal's answer. A retry of a recorded request meets its own dose (the next one
    is too early, this one is recorded): when its key is kept, the middleware answers
    with the first."""
    if keep is not None and (taken := await keep.claim.held(db)) is not None:
        return taken
    return problem


async def _settle_conflict(
    db: Database, keep: Keep[DoseOut] | None, exc: IntegrityError, dose_number: int
) -> Problem:
    """What a failed write answers: the retry's kept answer (``KeyTaken``) when the key
    was used meanwhile, else 409 ``dose-already-recorded`` for the index's refusal."""
    if keep is not None and (taken := keep.claim.refused(exc) or await keep.claim.held(db)):
        return taken
    if "immunization_doses" in str(exc.orig):
        return refusal("dose-already-recorded", dose_number=dose_number)
    raise exc
