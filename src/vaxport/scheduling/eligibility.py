"""May this person take a seat in this slot? The engine, the session's rules and the limits.

The answer is judged on the slot's day (a second dose may be booked for the day its
interval allows, not only once that day has come) over the person's history, which
:func:`history_of` reads: the one place that says where doses come from. Until the
immunization context records doses (issue 15), a completed appointment is a dose given
on its day; live appointments (booked or held) are doses to come. Each refusal is a
machine code and its parameters (:class:`Refusal`); booking turns them into problems.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, or_, select

from vaxport.core.db import UnitOfWork
from vaxport.registration.service import PersonFacts
from vaxport.scheduling.engine import Offer, Reason, assess_product, booking_limit_refusals
from vaxport.scheduling.history import Booked, Dose, Person, age_window
from vaxport.scheduling.models import LIVE_STATUSES, Appointment
from vaxport.scheduling.rules import windows_of
from vaxport.tenancy.service import TenantConfig

__all__ = ["History", "Refusal", "SlotView", "history_of", "refusals"]

# A dose given, until immunization records are read instead (issue 15).
GIVEN = "completed"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a seat is refused: a machine code (the problem type) and its parameters."""

    code: str
    params: Mapping[str, str | int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class History:
    """A person's doses and appointments to come, and the live counts limits apply to."""

    doses: tuple[Dose, ...]
    booked: tuple[Booked, ...]
    person_live: int
    account_live: int | None


@dataclass(frozen=True, slots=True)
class SlotView:
    """What the rules need of a slot and its session."""

    id: uuid.UUID
    session_id: uuid.UUID
    product_id: str
    day: dt.date
    starts_at: dt.datetime
    open: bool
    dose_numbers: tuple[int, ...]
    eligibility: Mapping[str, Any]
    release_at: dt.datetime | None
    seats_left: int = 0  # capacity - booked, as read


async def history_of(
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    person: PersonFacts,
    *,
    excluding: uuid.UUID | None = None,
) -> History:
    """The person's history in one query (``excluding``: an appointment being replaced).

    The account's live appointments come along when the person has an account, for the
    per-account limit.
    """
    mine = Appointment.beneficiary_id == person.id
    live = Appointment.status.in_(LIVE_STATUSES)
    who = (
        mine
        if person.account_id is None
        else or_(mine, and_(Appointment.account_id == person.account_id, live))
    )
    rows = (
        await uow.session.execute(
            select(
                Appointment.id,
                Appointment.beneficiary_id,
                Appointment.product_id,
                Appointment.day,
                Appointment.dose_number,
                Appointment.status,
            ).where(
                Appointment.tenant_id == tenant_id,
                who,
                Appointment.status.in_((*LIVE_STATUSES, GIVEN)),
            )
        )
    ).all()
    doses, booked = [], []
    person_live = account_live = 0
    for row_id, beneficiary_id, product_id, day, number, status in rows:
        if row_id == excluding:
            continue
        if status in LIVE_STATUSES:
            account_live += 1
        if beneficiary_id != person.id:
            continue
        if status == GIVEN:
            doses.append(Dose(product_id, day, number))
        else:
            booked.append(Booked(product_id, day, number))
            person_live += 1
    return History(
        doses=tuple(doses),
        booked=tuple(booked),
        person_live=person_live,
        account_live=account_live if person.account_id is not None else None,
    )


def engine_person(config: TenantConfig, person: PersonFacts) -> Person:
    """The engine's view of the person (a birth year alone where the tenant records one)."""
    by_date = config.birth_precision == "date" and person.birth_date is not None
    return Person(
        birth_date=person.birth_date if by_date else None,
        birth_year=person.birth_year,
        risk_groups=person.risk_groups,
        occupations=person.occupations,
    )


def refusals(
    config: TenantConfig, person: PersonFacts, history: History, slot: SlotView
) -> tuple[Offer | None, list[Refusal]]:
    """The engine's offer of the slot's product on its day, and every refusal of the seat."""
    if slot.product_id not in config.products:
        return None, [Refusal("product-withdrawn", {"product": slot.product_id})]
    who = engine_person(config, person)
    offer = assess_product(
        config,
        who,
        history.doses,
        product_id=slot.product_id,
        today=slot.day,
        booked=history.booked,
    )
    out = [_refusal(r) for r in offer.refusals]
    if slot.dose_numbers and offer.dose_number not in slot.dose_numbers:
        offered = ", ".join(str(n) for n in slot.dose_numbers)
        out.append(
            Refusal("dose-not-offered", {"dose_number": offer.dose_number, "offered": offered})
        )
    out += _session_rules(config, who, slot)
    limits = booking_limit_refusals(
        config, person_live=history.person_live, account_live=history.account_live
    )
    out += [_refusal(r) for r in limits]
    return offer, out


def _refusal(reason: Reason) -> Refusal:
    params = reason.as_dict()
    del params["code"]
    return Refusal(reason.code, params)


def _years(value: Any) -> str | None:
    """A session's age bound as an age text (``12`` -> ``12y``; ``9m`` as given)."""
    if value is None or isinstance(value, bool):
        return None
    return f"{value}y" if isinstance(value, int) else str(value)


def _session_rules(config: TenantConfig, who: Person, slot: SlotView) -> list[Refusal]:
    """The session's own narrowing: ages (in years) and priority groups."""
    rules = slot.eligibility or {}
    out: list[Refusal] = []
    min_age, max_age = _years(rules.get("min_age")), _years(rules.get("max_age"))
    if min_age or max_age:
        start, too_old_on = age_window(who, min_age, max_age)
        if slot.day < start:
            out.append(Refusal("too-young", {"min_age": min_age or "0d", "on": start.isoformat()}))
        if too_old_on is not None and slot.day >= too_old_on:
            since = too_old_on.isoformat()
            out.append(Refusal("too-old", {"max_age": max_age or "", "since": since}))
    groups: Sequence[str] = rules.get("groups") or ()
    if groups:
        mine = {w.group.code for w in windows_of(config, who) if w.holds(slot.day)}
        if not mine.intersection(groups):
            out.append(Refusal("not-in-session-group", {"groups": ", ".join(groups)}))
    return out
