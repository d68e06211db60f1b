"""Whether a person may take a seat by ticket or offer, or wait for one: booking's check.

The release queue (a ticket, the draw) and the waitlist (joining, an offer) ask
:func:`eligible`, which is booking's own check (:mod:`vaxport.scheduling.eligibility`):
the person's history as :func:`history_of` reads it (doses given, appointments to come,
and what ``booking.limits`` counts: live appointments, waiting tickets and waiting
places), and :func:`refusals` over the session's terms. What is fairness's own is the
answer's shape: a :class:`Verdict` saying whether waiting may lift the refusals
(:data:`LASTING`), and the 422 ``not-eligible`` naming each of them with booking's
sentences (``refusals.REASONS``: one table for every way to a seat).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vaxport.core.db import UnitOfWork
from vaxport.core.errors import Problem, field_error
from vaxport.core.i18n import N_
from vaxport.registration.service import PersonFacts
from vaxport.scheduling.eligibility import (
    LASTING,
    Refusal,
    SessionTerms,
    history_of,
    refusals,
)
from vaxport.scheduling.refusals import REASONS, SLOT_FIELD, UNKNOWN_REASON
from vaxport.tenancy.service import TenantInfo

__all__ = ["LASTING", "NotEligible", "Refusal", "Verdict", "eligible", "not_eligible"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The dose a person would get of ``product_id`` and what refuses it (if anything).

    ``series`` and ``dose_number`` are the engine's offer; a withdrawn product has none
    (``""`` and 0, with its lasting refusal). ``lasting``: refused for good for the
    product (until something else changes: a cancellation, a dose), not only by this
    session's own terms (the dose numbers it gives, its ages and groups), which another
    session's seat may not share.
    """

    product_id: str
    series: str
    dose_number: int
    earliest: dt.date | None
    refusals: tuple[Refusal, ...]
    lasting: bool = False

    @property
    def ok(self) -> bool:
        return not self.refusals


class NotEligible(Problem):
    """The person may not have this seat, or wait for it: every reason in ``errors``."""

    status, slug, title = 422, "not-eligible", N_("Not eligible")


def not_eligible(verdict: Verdict, *, seat_field: str) -> NotEligible:
    """The 422 naming each refusal (code, parameters, booking's sentence for it).

    A refusal booking lays on the slot is laid on ``seat_field`` here (the session of a
    ticket, the product of a waitlist place); the others on ``beneficiary_id``.
    """
    errors: list[dict[str, str]] = []
    for r in verdict.refusals:
        where, sentence = REASONS.get(r.code, ("beneficiary_id", UNKNOWN_REASON))
        name = seat_field if where == SLOT_FIELD else where
        errors.append(field_error(name, sentence, code=r.code, **dict(r.params)))
    return NotEligible(N_("this person cannot have this vaccine here now"), errors=errors)


async def eligible(
    uow: UnitOfWork,
    tenant: TenantInfo,
    person: PersonFacts,
    *,
    product_id: str,
    day: dt.date,
    dose_numbers: Sequence[int] = (),
    session_rules: Mapping[str, Any] | None = None,
    excluding: Sequence[uuid.UUID] = (),
) -> Verdict:
    """May ``person`` have a dose of ``product_id`` on ``day``? Booking's check.

    ``dose_numbers``/``session_rules``: the session's, when a seat of one is asked for
    (a waitlist place, for any session, gives neither). ``excluding``: the ticket being
    drawn or the place being offered, which the seat replaces in ``booking.limits``.
    """
    history = await history_of(uow, tenant.id, person, excluding=excluding)
    terms = SessionTerms(product_id, day, tuple(dose_numbers), session_rules or {})
    offer, reasons = refusals(tenant.config, person, history, terms)
    product_wide = reasons
    if reasons and (dose_numbers or session_rules):
        # The same history without the session's terms (no query): what any seat meets.
        _, product_wide = refusals(tenant.config, person, history, SessionTerms(product_id, day))
    return Verdict(
        product_id=product_id,
        series=offer.disease if offer is not None else "",
        dose_number=offer.dose_number if offer is not None else 0,
        earliest=offer.earliest if offer is not None else None,
        refusals=tuple(reasons),
        lasting=any(r.lasting for r in product_wide),
    )
