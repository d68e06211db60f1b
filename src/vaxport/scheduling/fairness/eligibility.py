"""Whether a person may take a seat (a ticket, a waitlist offer) or wait for one.

INTEGRATION POINT. Booking (``scheduling/booking.py``, built in parallel) owns the full
eligibility check of a booking. Until it is merged, the release queue and the waitlist
ask :func:`_eligible` here, one call over the schedule engine
(:func:`vaxport.scheduling.service.assess_product`) and the tenant's ``booking.limits``;
the integrator points ``_eligible`` at booking's check and keeps the counting of tickets
and waitlist places (:func:`held_elsewhere`), which booking's limit must add too.

Today it knows no dose history (immunization records none yet): the series starts at
dose 1 unless an appointment to come says otherwise.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core.errors import Problem, field_error
from vaxport.core.i18n import N_, Param
from vaxport.registration.service import PersonFacts

# The engine as the front door publishes it (``scheduling.service``), imported from its
# module: the front door itself re-exports this package.
from vaxport.scheduling.engine import Reason, assess_product, booking_limit_refusals
from vaxport.scheduling.history import Booked, Person
from vaxport.scheduling.models import (
    LIVE_STATUSES,
    Appointment,
    ReleaseTicket,
    WaitlistEntry,
)
from vaxport.tenancy.service import TenantInfo

# Refusals waiting does not lift: a waitlist place or a ticket is pointless with one.
LASTING = frozenset(
    {
        "product-withdrawn",
        "too-old",
        "not-in-eligible-group",
        "wrong-product-sequence",
        "series-complete",
        "boosters-complete",
        "already-booked",
        "dose-not-served",
        "outside-session-ages",
        "outside-session-groups",
        "person-booking-limit",
        "account-booking-limit",
    }
)

MESSAGES: dict[str, str] = {
    "product-withdrawn": N_("this vaccine is no longer offered"),
    "too-young": N_("is too young for this vaccine until {on}"),
    "too-old": N_("is past the age limit of this vaccine"),
    "too-early": N_("must wait until {on} for dose {dose_number}"),
    "wrong-product-sequence": N_("cannot get this vaccine after {previous_product}"),
    "series-complete": N_("has completed the series and this vaccine offers no booster"),
    "boosters-complete": N_("has had every booster this vaccine allows"),
    "already-booked": N_("already has an appointment for dose {dose_number} on {on}"),
    "not-in-eligible-group-yet": N_("is not eligible yet: their group opens on {on}"),
    "not-in-eligible-group": N_("is not in a group eligible for this vaccine"),
    "person-booking-limit": N_(
        "already holds {limit} appointments, tickets or waitlist places: the most allowed"
    ),
    "account-booking-limit": N_(
        "this account already holds {limit} appointments, tickets or waitlist places"
    ),
    "dose-not-served": N_("needs dose {dose_number}, which this session does not give"),
    "outside-session-ages": N_("is outside the ages this session serves"),
    "outside-session-groups": N_("is not in a group this session serves"),
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a person may not take this seat: a code and its parameters."""

    code: str
    params: Mapping[str, Param] = field(default_factory=dict)

    @property
    def lasting(self) -> bool:
        """True when waiting does not lift it."""
        return self.code in LASTING


@dataclass(frozen=True, slots=True)
class Verdict:
    """The dose a person would get of ``product_id`` and what refuses it (if anything)."""

    product_id: str
    series: str
    dose_number: int
    earliest: dt.date | None
    refusals: tuple[Refusal, ...]

    @property
    def ok(self) -> bool:
        return not self.refusals

    @property
    def lasting(self) -> bool:
        """Refused for good (until something else changes: a cancellation, a dose)."""
        return any(r.lasting for r in self.refusals)


class NotEligible(Problem):
    """The person may not have this seat, or wait for it: every reason in ``errors``."""

    status, slug, title = 422, "not-eligible", N_("Not eligible")


def not_eligible(verdict: Verdict, field_name: str = "beneficiary_id") -> NotEligible:
    """The 422 naming each refusal (code, parameters, a sentence in the reader's language)."""
    errors: list[dict[str, str]] = [
        field_error(field_name, MESSAGES[r.code], code=r.code, **r.params) for r in verdict.refusals
    ]
    return NotEligible(N_("this person cannot have this vaccine here now"), errors=errors)


async def held_elsewhere(
    session: AsyncSession, tenant_id: uuid.UUID, person: PersonFacts, *, today: dt.date
) -> tuple[int, int | None]:
    """``(the person's, their account's)`` appointments to come, waiting tickets and
    waiting waitlist places: what ``booking.limits`` caps (an offered place holds an
    appointment, which counts instead)."""

    async def count(who: Any) -> int:
        appointments = select(func.count()).where(
            Appointment.tenant_id == tenant_id,
            who(Appointment),
            Appointment.status.in_(LIVE_STATUSES),
            Appointment.day >= today,
        )
        tickets = select(func.count()).where(
            ReleaseTicket.tenant_id == tenant_id,
            who(ReleaseTicket),
            ReleaseTicket.status == "waiting",
        )
        places = select(func.count()).where(
            WaitlistEntry.tenant_id == tenant_id,
            who(WaitlistEntry),
            WaitlistEntry.status == "waiting",
        )
        total = 0
        for query in (appointments, tickets, places):
            total += int((await session.execute(query)).scalar_one())
        return total

    mine = await count(lambda t: t.beneficiary_id == person.id)
    if person.account_id is None:
        return mine, None
    return mine, await count(lambda t: t.account_id == person.account_id)


async def _booked(
    session: AsyncSession, tenant_id: uuid.UUID, person_id: uuid.UUID, today: dt.date
) -> list[Booked]:
    rows = await session.execute(
        select(Appointment.product_id, Appointment.day, Appointment.dose_number).where(
            Appointment.tenant_id == tenant_id,
            Appointment.beneficiary_id == person_id,
            Appointment.status.in_(LIVE_STATUSES),
            Appointment.day >= today,
        )
    )
    return [Booked(product, day, number) for product, day, number in rows.all()]


def _refusal(reason: Reason) -> Refusal:
    params = reason.as_dict()
    params.pop("code")
    return Refusal(reason.code, params)


def _age_on(person: PersonFacts, day: dt.date) -> int:
    birth = person.birth_date or dt.date(person.birth_year, 1, 1)
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _session_refusals(
    person: PersonFacts, day: dt.date, rules: Mapping[str, Any], groups: Sequence[str]
) -> list[Refusal]:
    """A session's own narrowing (``eligibility``: ``min_age``/``max_age`` in years,
    ``groups``) beyond the engine's rules."""
    out = []
    age = _age_on(person, day)
    low, high = rules.get("min_age"), rules.get("max_age")
    if (isinstance(low, int) and age < low) or (isinstance(high, int) and age > high):
        out.append(Refusal("outside-session-ages"))
    wanted = rules.get("groups")
    if isinstance(wanted, list) and wanted and not set(wanted) & set(groups):
        out.append(Refusal("outside-session-groups"))
    return out


async def _eligible(
    session: AsyncSession,
    tenant: TenantInfo,
    person: PersonFacts,
    *,
    product_id: str,
    day: dt.date,
    today: dt.date,
    dose_numbers: Sequence[int] | None = None,
    session_rules: Mapping[str, Any] | None = None,
    counted: int = 0,
) -> Verdict:
    """May ``person`` have a dose of ``product_id`` on ``day``? (SWAP POINT: see above.)

    ``dose_numbers``/``session_rules``: the session's, when a seat of one is asked for.
    ``counted``: the places already counted in ``booking.limits`` that this seat would
    replace (the ticket being drawn, the waitlist place being offered).
    """
    config = tenant.config
    booked = await _booked(session, tenant.id, person.id, today)
    who = Person(birth_date=person.birth_date, birth_year=person.birth_year)
    offer = assess_product(config, who, (), product_id=product_id, today=day, booked=booked)
    refusals = [_refusal(r) for r in offer.refusals]
    if dose_numbers is not None and offer.dose_number not in dose_numbers:
        refusals.append(Refusal("dose-not-served", {"dose_number": offer.dose_number}))
    if session_rules:
        refusals += _session_refusals(person, day, session_rules, offer.groups)
    mine, account = await held_elsewhere(session, tenant.id, person, today=today)
    limits = booking_limit_refusals(
        config,
        person_live=mine - counted,
        account_live=None if account is None else account - counted,
    )
    refusals += [_refusal(r) for r in limits]
    return Verdict(
        product_id=product_id,
        series=offer.disease,
        dose_number=offer.dose_number,
        earliest=offer.earliest,
        refusals=tuple(refusals),
    )


eligible = _eligible
