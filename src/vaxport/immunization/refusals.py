"""Why a dose is not recorded, as RFC 9457 problems: one type per reason.

The problem's ``type`` ends with the reason's code (``.../lot-expired``,
``.../dose-already-recorded``); ``errors`` names the field at fault with the same code
and a sentence saying what to do. Status 409 when the state of things refuses (the dose
is already recorded, the lot is on hold: someone else may change it), 422 when the
request can never succeed as asked. The schedule engine's refusals keep the engine's
codes (``too-early``, ``wrong-product-sequence``...); those marked overridable below are
lifted by ``override: {"reason": ...}`` and the problem says so (``overridable: true``).
"""

from __future__ import annotations

from collections.abc import Mapping

from vaxport.core.errors import Conflict, Problem, ValidationFailed, field_error
from vaxport.core.i18n import N_, Param

__all__ = ["OVERRIDABLE", "refusal", "refusal_with"]

# Engine refusals a vaccinator may record past, giving a reason: the dose was given.
OVERRIDABLE = frozenset(
    {"too-early", "too-young", "too-old", "not-in-eligible-group", "not-in-eligible-group-yet"}
)
_CONFLICTS = frozenset({"dose-already-recorded", "lot-on-hold", "appointment-not-completable"})

# code -> (field, reason)
REASONS: Mapping[str, tuple[str, str]] = {
    "dose-already-recorded": (
        "dose_number",
        N_("dose {dose_number} is already recorded for this person: read their history"),
    ),
    "dose-number-not-next": (
        "dose_number",
        N_("must follow the last dose recorded: the next is dose {next}"),
    ),
    "unknown-product": ("product_id", N_("is not a vaccine of this country")),
    "product-withdrawn": ("product_id", N_("is a vaccine no longer given")),
    "wrong-product-sequence": (
        "product_id",
        N_("cannot follow {previous_product} in this series: record a vaccine that may"),
    ),
    "series-complete": (
        "product_id",
        N_("the series is complete and this vaccine has no booster"),
    ),
    "boosters-complete": (
        "product_id",
        N_("every booster this vaccine allows ({max_boosters}) is recorded"),
    ),
    "too-early": (
        "administered_at",
        N_(
            "is too early for dose {dose_number} ({min_days} days after the previous dose, "
            "on or after {on}): give an override with a reason if it was given on purpose"
        ),
    ),
    "too-young": (
        "beneficiary_id",
        N_("is too young for this vaccine (minimum {min_age}): give an override with a reason"),
    ),
    "too-old": (
        "beneficiary_id",
        N_("is past the age for this vaccine (up to {max_age}): give an override with a reason"),
    ),
    "not-in-eligible-group": (
        "beneficiary_id",
        N_("is not in a group eligible for this vaccine: give an override with a reason"),
    ),
    "not-in-eligible-group-yet": (
        "beneficiary_id",
        N_("their group opens on {on}: give an override with a reason"),
    ),
    "lot-missing": ("lot_number", N_("is required: give the lot number printed on the vial")),
    "lot-twice": ("lot_id", N_("give the lot by its number or its id, not both")),
    "unknown-lot": ("lot_number", N_("is not a registered lot of this vaccine: check the vial")),
    "lot-other-product": ("lot_number", N_("is a lot of {lot_product}, not of this vaccine")),
    "lot-expired": ("lot_number", N_("expired on {expires_on}: use another vial")),
    "lot-on-hold": ("lot_number", N_("is on hold: do not use it, take another lot")),
    "administered-in-future": (
        "administered_at",
        N_("is in the future: give the time the dose was given"),
    ),
    "administered-before-birth": ("administered_at", N_("is before the person's birth")),
    "facility-required": (
        "facility_id",
        N_("is required: name the centre where the dose was given"),
    ),
    "facility-out-of-reach": (
        "facility_id",
        N_("is not a centre you work for: record the dose at your own centre"),
    ),
    "appointment-twice": (
        "booking_code",
        N_("give the appointment by its id or its booking code, not both"),
    ),
    "unknown-appointment": ("appointment_id", N_("is not an appointment of this country")),
    "appointment-mismatch": (
        "appointment_id",
        N_("is for another person or another vaccine: record the dose without it"),
    ),
    "appointment-not-completable": (
        "appointment_id",
        N_("is {status}: only a booked appointment (or a late no-show) is completed by a dose"),
    ),
}
_DETAILS: Mapping[str, str] = {
    "dose-already-recorded": N_("This dose is already recorded."),
    "lot-on-hold": N_("This lot is on hold."),
}
_NOT_RECORDED = N_("This dose cannot be recorded as given.")


def refusal(code: str, *, field: str | None = None, **params: Param) -> Problem:
    """The problem for ``code`` (its type), naming its field and reason."""
    return refusal_with(code, params, field=field)


def refusal_with(code: str, params: Mapping[str, Param], *, field: str | None = None) -> Problem:
    """:func:`refusal` with its parameters as a mapping (the schedule engine's)."""
    where, reason = REASONS[code]
    error = field_error(field or where, reason, code=code, **params)
    problem: Problem
    if code in _CONFLICTS:
        problem = Conflict(_DETAILS.get(code, _NOT_RECORDED), errors=[error])
    else:
        problem = ValidationFailed(_NOT_RECORDED, errors=[error])
    if code in OVERRIDABLE:
        problem.extra["overridable"] = True
    problem.slug = code
    return problem
