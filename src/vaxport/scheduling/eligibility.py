"""May this person take a seat? The engine, the session's rules and the limits.

One check for every way to a seat: booking a slot, a release ticket, a waitlist place
and its offer (``fairness/eligibility.py`` asks :func:`refusals` too). The answer is
judged on the seat's day (a second dose may be booked for the day its interval allows,
not only once that day has come) over the person's history, which :func:`history_of`
reads: the one place that says where doses come from and what ``booking.limits``
counts. Doses are the immunization context's records, read through
:mod:`vaxport.scheduling.doses_port` (a completed appointment without a dose record is
not a dose); live appointments (booked or held) are doses to come. Each refusal is a
machine code and its parameters (:class:`Refusal`); ``refusals.py`` turns them into
problems and holds their sentences.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    String,
    Uuid,
    and_,
    bindparam,
    literal,
    null,
    or_,
    select,
    union_all,
)

from vaxport.core.db import UnitOfWork, fetch_in
from vaxport.registration.service import PersonFacts
from vaxport.scheduling.doses_port import doses_of
from vaxport.scheduling.engine import Offer, Reason, assess_product, booking_limit_refusals
from vaxport.scheduling.history import Booked, Dose, Person, age_window
from vaxport.scheduling.models import (
    LIVE_STATUSES,
    Appointment,
    ReleaseTicket,
    WaitlistEntry,
)
from vaxport.scheduling.rules import windows_of
from vaxport.tenancy.service import TenantConfig

__all__ = [
    "LASTING",
    "History",
    "Refusal",
    "SeatTerms",
    "SessionTerms",
    "SlotView",
    "history_of",
    "refusals",
]

# What else ``booking.limits`` counts beside live appointments, as history rows say it.
_TICKET, _PLACE = "ticket", "place"
# Refusals waiting does not lift (until something else changes: a cancellation, a dose):
# a release ticket or a waitlist place is pointless with one.
LASTING = frozenset(
    {
        "product-withdrawn",
        "too-old",
        "not-in-eligible-group",
        "wrong-product-sequence",
        "series-complete",
        "boosters-complete",
        "already-booked",
        "dose-not-offered",
        "not-in-session-group",
        "person-booking-limit",
        "account-booking-limit",
    }
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a seat is refused: a machine code (the problem type) and its parameters."""

    code: str
    params: Mapping[str, str | int] = field(default_factory=dict)

    @property
    def lasting(self) -> bool:
        """True when waiting does not lift it (see :data:`LASTING`)."""
        return self.code in LASTING


@dataclass(frozen=True, slots=True)
class History:
    """A person's doses and appointments to come, and what ``booking.limits`` counts:
    live appointments, waiting release tickets and waiting waitlist places (an offered
    place holds an appointment, which counts instead), the person's and their account's."""

    doses: tuple[Dose, ...]
    booked: tuple[Booked, ...]
    person_live: int
    account_live: int | None


class SeatTerms(Protocol):
    """What the rules read of a seat: its product, its day, its session's rules."""

    @property
    def product_id(self) -> str: ...
    @property
    def day(self) -> dt.date: ...
    @property
    def dose_numbers(self) -> tuple[int, ...]: ...
    @property
    def eligibility(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class SessionTerms:
    """A seat not yet tied to a slot: a session's (a release ticket), or any session's of
    a product (a waitlist place: no dose numbers, no narrowing)."""

    product_id: str
    day: dt.date
    dose_numbers: tuple[int, ...] = ()
    eligibility: Mapping[str, Any] = field(default_factory=dict)


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
    excluding: uuid.UUID | Sequence[uuid.UUID] | None = None,
) -> History:
    """The person's recorded doses, live appointments and what the limits count.

    ``excluding``: what the seat asked for replaces, so it does not count against the
    person (an appointment being rescheduled, the ticket being drawn, the waitlist place
    being offered). The account's live appointments, tickets and places come along when
    the person has an account, for the per-account limit.
    """
    skip = {excluding} if isinstance(excluding, uuid.UUID) else set(excluding or ())
    query = _HISTORY_WITH_ACCOUNT if person.account_id is not None else _HISTORY_ALONE
    params: dict[str, Any] = {"hist_tenant": tenant_id, "hist_person": person.id}
    if person.account_id is not None:
        params["hist_account"] = person.account_id
    rows = await fetch_in(uow, query, params)
    booked = []
    person_live = account_live = 0
    for row_id, beneficiary_id, product_id, day, number, status in rows:
        if row_id in skip:
            continue
        account_live += 1
        if beneficiary_id != person.id:
            continue
        if status in LIVE_STATUSES:
            booked.append(Booked(product_id, day, number))
        person_live += 1
    return History(
        doses=await doses_of(uow, tenant_id, person.id),
        booked=tuple(booked),
        person_live=person_live,
        account_live=account_live if person.account_id is not None else None,
    )


_TENANT = bindparam("hist_tenant", None, type_=Uuid())
_PERSON = bindparam("hist_person", None, type_=Uuid())
_ACCOUNT = bindparam("hist_account", None, type_=Uuid())


def _history_query(*, with_account: bool) -> Any:
    """The person's live appointments, and the waiting tickets and places
    of the person and their account, as rows of ``(id, beneficiary_id, product_id, day,
    dose_number, status)``: one round trip, each part on its table's own index.

    Built once per shape (a person with or without an account), its values given as the
    parameters ``hist_tenant``, ``hist_person`` and ``hist_account``: :func:`fetch_in`
    compiles it once per process and sends it off the ORM."""

    def who(table: Any, live: ColumnElement[bool]) -> ColumnElement[bool]:
        mine: ColumnElement[bool] = table.beneficiary_id == _PERSON
        if not with_account:
            return mine
        return or_(mine, and_(table.account_id == _ACCOUNT, live))

    appointment_live = Appointment.status.in_(LIVE_STATUSES)
    appointments = select(
        Appointment.id,
        Appointment.beneficiary_id,
        Appointment.product_id,
        Appointment.day,
        Appointment.dose_number,
        Appointment.status,
    ).where(
        Appointment.tenant_id == _TENANT,
        who(Appointment, appointment_live),
        appointment_live,
    )

    def waiting(table: Any, kind: str) -> Any:
        return select(
            table.id,
            table.beneficiary_id,
            null(),
            null(),
            null(),
            literal(kind, String),
        ).where(
            table.tenant_id == _TENANT,
            table.status == "waiting",
            who(table, table.status == "waiting"),
        )

    return union_all(appointments, waiting(ReleaseTicket, _TICKET), waiting(WaitlistEntry, _PLACE))


_HISTORY_ALONE = _history_query(with_account=False)
_HISTORY_WITH_ACCOUNT = _history_query(with_account=True)


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
    config: TenantConfig, person: PersonFacts, history: History, slot: SeatTerms
) -> tuple[Offer | None, list[Refusal]]:
    """The engine's offer of the seat's product on its day, and every refusal of the seat
    (``slot``: a slot booked, or a session's terms for a ticket or a waitlist place)."""
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


def _session_rules(config: TenantConfig, who: Person, slot: SeatTerms) -> list[Refusal]:
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
