"""Booking's refusals as RFC 9457 problems: one type per reason, with what to do next.

:data:`REASONS` is the one table of the sentences said for each refusal, whichever way
the seat was asked for: booking, and the release queue's and waitlist's ``not-eligible``
(``fairness/eligibility.py``).

The problem's ``type`` ends with the reason's code (``.../slot-full``, ``.../too-early``);
``errors`` names the field at fault with the same code and a sentence; ``refusals`` lists
every reason with its parameters (``{"code": "too-early", "on": "2025-03-01", ...}``).
When several reasons apply, the type is the first by :data:`ORDER`: a state of things
(full, already booked, a limit) before a property of the person (too young...).

Status: 409 when the state of things refuses (the slot is full, the person is booked
already, a limit is reached, the slot closed, the cutoff passed); 422 when the request
can never succeed as asked (the person is not eligible for this slot).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from vaxport.core.errors import Conflict, Problem, ValidationFailed, field_error
from vaxport.core.i18n import N_
from vaxport.scheduling.eligibility import Refusal

__all__ = [
    "REASONS",
    "SLOT_FIELD",
    "UNKNOWN_REASON",
    "AppointmentEnded",
    "CutoffPassed",
    "SlotFull",
    "refused",
    "slot_not_bookable",
]

# Reasons that a later state of things may lift: 409, and they come first.
_CONFLICTS = (
    "slot-full",
    "already-booked",
    "person-booking-limit",
    "account-booking-limit",
    "slot-closed",
    "slot-started",
    "not-released-yet",
    "in-release-queue",
    "release-drawing",
)
ORDER = (
    *_CONFLICTS,
    "product-withdrawn",
    "too-young",
    "too-old",
    "series-complete",
    "boosters-complete",
    "wrong-product-sequence",
    "too-early",
    "not-in-eligible-group-yet",
    "not-in-eligible-group",
    "not-in-session-group",
    "dose-not-offered",
    "not-same-series",
    "too-far-ahead",
)

# The field of a refusal about the seat itself (another request names its own field).
SLOT_FIELD = "slot_id"
UNKNOWN_REASON = N_("cannot be booked here")
# The sentence for each reason (a message id; ``{name}``s from its parameters) and the
# field at fault.
REASONS: dict[str, tuple[str, str]] = {
    "slot-full": (SLOT_FIELD, N_("has no seat left: choose another slot")),
    "already-booked": (
        "beneficiary_id",
        N_("is already booked for dose {dose_number} on {on}: reschedule that appointment"),
    ),
    "person-booking-limit": (
        "beneficiary_id",
        N_(
            "already holds {limit} appointments, release tickets or waitlist places: cancel "
            "one before asking for another"
        ),
    ),
    "account-booking-limit": (
        "beneficiary_id",
        N_(
            "your family already holds {limit} appointments, release tickets or waitlist "
            "places: cancel one first"
        ),
    ),
    "slot-closed": (SLOT_FIELD, N_("is no longer open for booking: choose another slot")),
    "slot-started": (SLOT_FIELD, N_("has already started: choose a later slot")),
    "not-released-yet": (SLOT_FIELD, N_("opens for booking at {on}: come back then")),
    "in-release-queue": (
        SLOT_FIELD,
        N_("is being released by a draw until {on}: ask for a ticket for its session"),
    ),
    "release-drawing": (
        SLOT_FIELD,
        N_("is being drawn among the people who asked in time: try again in a minute"),
    ),
    "product-withdrawn": (SLOT_FIELD, N_("is for a vaccine no longer given: choose another slot")),
    "too-young": (
        "beneficiary_id",
        N_("is too young for this vaccine on that day (minimum {min_age}): book on or after {on}"),
    ),
    "too-old": ("beneficiary_id", N_("is past the age for this vaccine (up to {max_age})")),
    "series-complete": (
        "beneficiary_id",
        N_("has completed the series and this vaccine has no booster"),
    ),
    "boosters-complete": (
        "beneficiary_id",
        N_("has had every booster this vaccine allows ({max_boosters})"),
    ),
    "wrong-product-sequence": (
        SLOT_FIELD,
        N_(
            "is for {product}, which cannot follow {previous_product}: choose a slot for a "
            "vaccine that may follow it"
        ),
    ),
    "too-early": (
        SLOT_FIELD,
        N_(
            "is too early for dose {dose_number} ({min_days} days after the previous dose): "
            "choose a slot on or after {on}"
        ),
    ),
    "not-in-eligible-group-yet": (
        "beneficiary_id",
        N_("is not eligible yet: their group opens on {on}"),
    ),
    "not-in-eligible-group": (
        "beneficiary_id",
        N_("is not in a group eligible for this vaccine now"),
    ),
    "not-in-session-group": (
        SLOT_FIELD,
        N_("is reserved for other groups ({groups}): choose another session"),
    ),
    "dose-not-offered": (
        SLOT_FIELD,
        N_("gives doses {offered}, not dose {dose_number}: choose another session"),
    ),
    "not-same-series": (
        SLOT_FIELD,
        N_("is for another disease: book it as a new appointment instead"),
    ),
    "too-far-ahead": (SLOT_FIELD, N_("is too far ahead: book at most {days} days ahead")),
}
_DETAILS: dict[str, str] = {
    "slot-full": N_("This slot is full."),
    "already-booked": N_("This person is already booked for this dose."),
    "person-booking-limit": N_(
        "This person holds as many appointments, tickets and waitlist places as allowed."
    ),
    "account-booking-limit": N_(
        "Your family holds as many appointments, tickets and waitlist places as allowed."
    ),
}
_NOT_ELIGIBLE = N_("This person cannot be booked in this slot.")
_NOT_NOW = N_("This slot cannot be booked now.")


class SlotFull(Conflict):
    """No seat is left in the slot (409 ``slot-full``)."""

    slug, title = "slot-full", N_("Slot full")


class AppointmentEnded(Conflict):
    """The appointment is over (cancelled, completed...): nothing to change."""

    slug, title = "appointment-ended", N_("Appointment ended")


class CutoffPassed(Conflict):
    """Too close to the appointment for the person to cancel or move it themselves."""

    slug, title = "cancel-cutoff-passed", N_("Too late to change")


def _rank(refusal: Refusal) -> int:
    return ORDER.index(refusal.code) if refusal.code in ORDER else len(ORDER)


def refused(reasons: Sequence[Refusal]) -> Problem:
    """The problem for ``reasons`` (at least one): typed by the first, listing them all."""
    ordered = sorted(reasons, key=_rank)
    first = ordered[0]
    errors: list[dict[str, str]] = []
    for r in ordered:
        where, reason = REASONS.get(r.code, ("beneficiary_id", UNKNOWN_REASON))
        errors.append(field_error(where, reason, code=r.code, **dict(r.params)))
    listing = [{"code": r.code, **r.params} for r in ordered]
    earliest = first.params.get("on")
    on = earliest if isinstance(earliest, str) else None
    problem: Problem
    if first.code == "slot-full":
        problem = SlotFull(_DETAILS["slot-full"], errors=errors, refusals=listing)
    elif first.code in _CONFLICTS:
        detail = _DETAILS.get(first.code, _NOT_NOW)
        problem = Conflict(detail, errors=errors, refusals=listing, earliest=on)
    else:
        problem = ValidationFailed(_NOT_ELIGIBLE, errors=errors, refusals=listing, earliest=on)
    if on is None:
        problem.extra.pop("earliest", None)
    problem.slug = first.code
    return problem


def slot_full() -> Problem:
    """The slot has no seat left."""
    return refused([Refusal("slot-full")])


def slot_not_bookable(
    code: str, *, on: dt.datetime | None = None, days: int | None = None
) -> Problem:
    """The slot is closed, started, not released yet or too far ahead."""
    params: dict[str, str | int] = {}
    if on is not None:
        params["on"] = on.isoformat()
    if days is not None:
        params["days"] = days
    return refused([Refusal(code, params)])
