"""Correcting a dose record (the use case behind ``PATCH .../doses/{dose_id}``).

The recorder in their window, or a supervisor with a reason (``authority.py``), changes
what was recorded wrong: the lot, the time, the product, the dose number, the site,
route and notes. The request carries the dose's ``version`` as read; the dose is locked
and an older version is 409 ``stale-version``, so of two concurrent corrections one
wins. The checks recording makes are made again where they apply (``checks.py``): the
lot when the lot, product or time changes; the time and the schedule engine when the
product, time or dose number changes, judged against the person's recorded doses before
this one (this dose and the later ones of its series left out: those were judged when
recorded). Then in one transaction: the revision (the row as it was), the dose at its
next version, the audit entry ``dose.correct`` (field names only), the event
``dose.corrected`` and, when the schedule's facts changed, the next-dose reminders
brought in line.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from vaxport.core import audit
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import NotFound, ValidationFailed, field_error
from vaxport.core.i18n import N_
from vaxport.core.outbox import emit
from vaxport.identity.service import Actor
from vaxport.immunization.checks import DoseTaken, check_birth, check_lot, check_schedule
from vaxport.immunization.corrections import history
from vaxport.immunization.corrections.authority import (
    authority,
    closed,
    locked_dose,
    require_reason,
    stale,
)
from vaxport.immunization.corrections.schemas import CLEARABLE, CORRECTABLE, DoseCorrection
from vaxport.immunization.events import DOSE_CORRECTED, dose_payload
from vaxport.immunization.models import Dose, Lot
from vaxport.immunization.recording import FUTURE_SKEW
from vaxport.immunization.records import dose_out, engine_person
from vaxport.immunization.refusals import refusal
from vaxport.immunization.reminders import REASON, reason_id, resync_reminders
from vaxport.immunization.schemas import DoseOut
from vaxport.notifications import service as notifications
from vaxport.registration import service as registration
from vaxport.scheduling import service as scheduling
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantInfo

__all__ = ["correct_dose"]

NOT_CORRECTED = N_("the dose cannot be corrected as asked")
# Fields whose change re-runs the lot check, and the schedule's.
_LOT_FACTS = frozenset({"product_id", "lot_number", "lot_id", "administered_at"})
_SCHEDULE_FACTS = frozenset({"product_id", "administered_at", "dose_number"})


def _requested(body: DoseCorrection) -> dict[str, Any]:
    """The fields the request changes; 422 for a null that cannot be, or nothing asked."""
    given = {k: getattr(body, k) for k in CORRECTABLE if k in body.model_fields_set}
    errors: list[dict[str, str]] = [
        field_error(k, N_("cannot be cleared: give the right value"), code="not-clearable")
        for k, v in given.items()
        if v is None and k not in CLEARABLE
    ]
    if not given and body.override is None:
        errors.append(
            field_error(
                "version",
                N_(
                    "name a field to correct: product_id, lot_number or lot_id, "
                    "administered_at, dose_number, site, route or notes"
                ),
                code="nothing-to-correct",
            )
        )
    if errors:
        raise ValidationFailed(NOT_CORRECTED, errors=errors)
    if given.get("lot_id") is not None and given.get("lot_number") is not None:
        raise refusal("lot-twice")
    return given


async def _earlier_doses(
    uow: UnitOfWork, dose: Dose, series: str, number: int | None
) -> tuple[scheduling.Dose, ...]:
    """The person's recorded doses the corrected one follows: every one but itself and,
    in its series, those numbered from ``number`` on (None: the whole series counts)."""
    query = select(Dose.product_id, Dose.day, Dose.dose_number).where(
        Dose.tenant_id == dose.tenant_id,
        Dose.beneficiary_id.in_(registration.with_merged(dose.tenant_id, dose.beneficiary_id)),
        Dose.status == "recorded",
        Dose.id != dose.id,
    )
    if number is not None:
        query = query.where(or_(Dose.series != series, Dose.dose_number < number))
    rows = (await uow.session.execute(query)).all()
    return tuple(scheduling.Dose(product, day, n) for product, day, n in rows)


async def _check_schedule(
    uow: UnitOfWork, tenant: TenantInfo, dose: Dose, body: DoseCorrection, asked: dict[str, Any]
) -> None:
    """Judge the corrected dose as recording would, and set its series, number, override."""
    config = tenant.config
    product = config.products[dose.product_id]
    person = await registration.person_facts(uow.session, tenant.id, dose.beneficiary_id)
    if person is None:
        raise NotFound(N_("beneficiary not found"))  # erased or merged away
    day = dose.day
    check_birth(person, day)
    number = asked.get("dose_number")
    if number is None and product.disease == dose.series:
        number = dose.dose_number  # the same dose of the same series, unless told
    earlier = await _earlier_doses(uow, dose, product.disease, number)
    offer = scheduling.assess_product(
        config, engine_person(config, person), earlier, product_id=dose.product_id, today=day
    )
    overridden = check_schedule(
        offer, dose_number=number, override=body.override is not None, person_id=person.id
    )
    dose.series = offer.disease
    dose.dose_number = offer.dose_number
    dose.overridden = overridden
    dose.override_reason = body.override.reason if overridden and body.override else None


async def _apply(
    uow: UnitOfWork, tenant: TenantInfo, dose: Dose, body: DoseCorrection, asked: dict[str, Any]
) -> Lot | None:
    """Set the asked values on ``dose`` after their checks; the lot when re-checked."""
    if "product_id" in asked and asked["product_id"] not in tenant.config.products:
        raise refusal("unknown-product")
    if asked.get("administered_at") is not None:
        given_at = asked["administered_at"].astimezone(dt.UTC)
        if given_at > utcnow() + FUTURE_SKEW:
            raise refusal("administered-in-future")
        dose.administered_at = given_at
        dose.day = scheduling.local_today(tenant, given_at)
    dose.product_id = asked.get("product_id", dose.product_id)
    lot = None
    if asked.keys() & _LOT_FACTS:
        named = "lot_id" in asked or "lot_number" in asked
        lot = await check_lot(
            uow.session,
            tenant.id,
            product_id=dose.product_id,
            lot_id=asked.get("lot_id") if named else dose.lot_id,
            lot_number=asked.get("lot_number"),
            day=dose.day,
        )
        dose.lot_id = lot.id
    if asked.keys() & _SCHEDULE_FACTS or body.override is not None:
        await _check_schedule(uow, tenant, dose, body, asked)
    for name in ("site", "route"):
        if name in asked:
            setattr(dose, name, asked[name])
    if "notes" in asked:
        dose.notes = asked["notes"]
    return lot


async def _lot_number(uow: UnitOfWork, dose: Dose, lot: Lot | None) -> str | None:
    if lot is not None or dose.lot_id is None:
        return lot.lot_number if lot is not None else None
    found: str | None = await uow.session.scalar(
        select(Lot.lot_number).where(Lot.tenant_id == dose.tenant_id, Lot.id == dose.lot_id)
    )
    return found


async def _realign_reminders(
    uow: UnitOfWork,
    *,
    tenant: TenantInfo,
    settings: Settings,
    dose: Dose,
    was: tuple[str, int],
    cause: uuid.UUID,
) -> None:
    """The reminders the dose scheduled as it was, withdrawn; the one due now, queued."""
    series, number = was
    for n in {number, number + 1, dose.dose_number, dose.dose_number + 1}:
        for s in {series, dose.series}:
            await notifications.cancel_for_reason(
                uow, tenant_id=tenant.id, reason_type=REASON,
                reason_id=reason_id(dose.beneficiary_id, s, n),
            )  # fmt: skip
    await resync_reminders(
        uow,
        tenant=tenant,
        settings=settings,
        person_id=dose.beneficiary_id,
        series=dose.series,
        dose_number=dose.dose_number,
        cause=cause,
    )


async def correct_dose(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    settings: Settings,
    dose_id: uuid.UUID,
    body: DoseCorrection,
) -> DoseOut:
    """Correct the dose at ``body.version``; the dose as it is now (unchanged when the
    values asked are the ones it has)."""
    asked = _requested(body)
    now = utcnow()
    try:
        async with db.transaction(tenant_id=tenant.id) as uow:
            dose = await locked_dose(uow, tenant.id, dose_id, actor)
            who = authority(actor, tenant, dose, now)
            require_reason(who, body.reason)
            if body.version != dose.version:
                raise stale(dose, body.version)
            if dose.status != "recorded":
                raise closed(dose)
            before = history.snapshot(dose)
            was = (dose.series, dose.dose_number)
            lot = await _apply(uow, tenant, dose, body, asked)
            fields = history.changed(before, dose)
            number = await _lot_number(uow, dose, lot)
            if not fields:
                return dose_out(dose, number, personal=True)
            revision = history.write_revision(
                uow, dose, before, action="correct", reason=body.reason,
                changed_by=actor.account_id, approved_by=None, at=now,
            )  # fmt: skip
            dose.version += 1
            dose.updated_at = now
            await uow.session.flush()
            await _record(uow, actor, dose, fields, who)
            if set(fields) & {"series", "dose_number", "day", "product_id"}:
                await _realign_reminders(
                    uow, tenant=tenant, settings=settings, dose=dose, was=was, cause=revision.id
                )
            return dose_out(dose, number, personal=True)
    except DoseTaken as taken:
        raise taken.problem from None
    except IntegrityError as exc:
        if "immunization_doses" in str(exc.orig):
            raise refusal("dose-already-recorded", dose_number=body.dose_number or 0) from None
        raise


async def _record(uow: UnitOfWork, actor: Actor, dose: Dose, fields: list[str], who: str) -> None:
    """The correction's audit entry (field names, never values) and its event."""
    details: dict[str, object] = {
        "beneficiary_id": str(dose.beneficiary_id),
        "fields": fields,
        "version": dose.version,
        "authority": who,
    }
    if dose.overridden and "overridden" in fields:
        details["overridden"] = True  # the reason is on the row, encrypted
    await audit.record(
        uow, by=actor.principal, action="dose.correct", object_type="dose", object_id=dose.id,
        details=details,
    )  # fmt: skip
    payload = dose_payload(dose) | {"version": dose.version, "fields": fields}
    await emit(uow, DOSE_CORRECTED, payload)
