"""Problems as people read them: in their language, naming fields by their labels.

One mechanism for pages and API answers. A field error keeps its message id and
parameters (``core/errors.py``); here it is rendered through the catalog of the reader's
language and prefixed with the field's label from :data:`LABELS` (the same words the
forms show). Problem+json keeps its machine-readable parts (``type``, ``status``, each
error's ``field`` and ``code``) whatever the language; ``detail`` and each error's
``reason`` and ``message`` are translated.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as default
from typing import Any

from fastapi import Request

from vaxport.core.errors import Problem, ValidationFailed
from vaxport.core.i18n import (
    N_,
    Param,
    installation_languages,
    negotiate,
    render_message,
    translations_for,
)

# The label of every field a person may see an error about, by its name (the last part
# of its path that is not an index: ``members.0.documents.0.number`` -> ``number``).
LABELS: dict[str, str] = {
    "given_name": N_("Given name"),
    "family_name": N_("Family name"),
    "sex": N_("Sex"),
    "birth_date": N_("Date of birth"),
    "birth_year": N_("Year of birth"),
    "id_type": N_("Type of ID document"),
    "number": N_("ID number"),
    "documents": N_("ID number"),
    "region_code": N_("Region"),
    "region": N_("Region"),
    "phone": N_("Mobile phone"),
    "new_phone": N_("New mobile phone"),
    "email": N_("E-mail address"),
    "destination": N_("Mobile phone or e-mail address"),
    "preferred_locale": N_("Language"),
    "guardian_relation": N_("Relation to a minor"),
    "risk_groups": N_("Health conditions"),
    "occupations": N_("Occupation"),
    "facility_id": N_("Vaccination centre"),
    "facility": N_("Vaccination centre"),
    "field": N_("What to correct"),
    "value": N_("Correct value"),
    "reason": N_("Reason"),
    "note": N_("Note for the record"),
    "document_id": N_("ID document"),
    "survivor_id": N_("Record that stays"),
    "username": N_("Username"),
    "display_name": N_("Name"),
    "role": N_("Role"),
    "password": N_("Password"),
    "new_password": N_("New password"),
    "code": N_("Code"),
    "claim_code": N_("Claim code"),
    "reference": N_("Reference"),
    "recovery_code": N_("Recovery code"),
    "q": N_("Search"),
    "query": N_("Search"),
    # Centres (the API's facility fields and the import's columns).
    "name": N_("Name"),
    "type": N_("Type of centre"),
    "address": N_("Address"),
    "postal_code": N_("Postal code"),
    "location": N_("Location"),
    "lat": N_("Latitude"),
    "latitude": N_("Latitude"),
    "lon": N_("Longitude"),
    "longitude": N_("Longitude"),
    "opening_hours": N_("Opening hours"),
    "weekly": N_("Opening hours"),
    **{
        f"hours_{day}": N_("Opening hours")
        for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    },
    "exceptions": N_("Special days"),
    "accessibility": N_("Accessibility"),
    "vaccines": N_("Vaccines"),
    "daily_capacity": N_("People per day"),
    "stations": N_("Vaccination stations"),
    "active": N_("Open"),
    "version": N_("Version"),
    # Accounts, sign-in and recovery.
    "current_password": N_("Current password"),
    "token": N_("Link"),
    "totp": N_("Second factor"),
    "method": N_("Recovery method"),
    "contact_code": N_("Code"),
    "kind": N_("Channel"),
    "preferred_kind": N_("Preferred channel"),
    "Idempotency-Key": N_("Idempotency-Key"),
    # Lists, reviews and files.
    "status": N_("Status"),
    "cursor": N_("Page"),
    "vaccine": N_("Vaccine"),
    "dose": N_("Dose number"),
    "age": N_("Age in years"),
    "date_from": N_("From"),
    "date_to": N_("Until"),
    "start": N_("First day"),
    "page": N_("Page"),
    "limit": N_("Page size"),
    "until": N_("Until"),
    "since": N_("Since"),
    "person": N_("Person"),
    "id_number": N_("ID number"),
    "file": N_("File"),
    "row": N_("Row"),
    "body": N_("Request"),
    # Sessions and slots (the API's fields and the session form's inputs).
    "day": N_("Day"),
    "start_time": N_("Start time"),
    "end_time": N_("End time"),
    "product_id": N_("Vaccine"),
    "dose_numbers": N_("Doses given"),
    "slot_minutes": N_("Minutes per slot"),
    "capacity_per_slot": N_("People per slot"),
    "min_age": N_("Minimum age"),
    "max_age": N_("Maximum age"),
    "groups": N_("Priority groups"),
    "repeat": N_("Repeat"),
    "weekdays": N_("Repeat every week on"),
    "repeat_weekdays": N_("Repeat every week on"),
    "repeat_until": N_("Last day of the repeat"),
    "from_day": N_("From"),
    "to_day": N_("To"),
    # Doses and adverse events (the API's fields and the pages' inputs).
    "lot_id": N_("Lot"),
    "lot_number": N_("Lot"),
    "dose_number": N_("Dose number"),
    "administered_at": N_("Time given"),
    "site": N_("Site"),
    "route": N_("Route"),
    "notes": N_("Notes"),
    "beneficiary_id": N_("Person"),
    "appointment_id": N_("Appointment"),
    "booking_code": N_("Booking code"),
    "override_reason": N_("Reason for recording it anyway"),
    "dose_id": N_("Dose"),
    "symptoms": N_("Symptoms"),
    "onset_at": N_("When the symptoms began"),
    "serious": N_("Serious"),
    "criteria": N_("Seriousness criteria"),
    "outcome": N_("Outcome"),
    "narrative": N_("What happened"),
}
_FIELD_AND_REASON = N_("{label}: {reason}")


def label_of(path: str) -> str | None:
    """The label's message id for a field path, or None when the field has no label."""
    if path in LABELS:
        return LABELS[path]
    # The nearest named part with a label: ``name.fr`` is the facility's name.
    for part in reversed(path.split(".")):
        if not part.isdigit() and part in LABELS:
            return LABELS[part]
    return None


@dataclass(frozen=True, slots=True)
class FormError:
    """One message of the error summary; ``field`` links it to its input.

    ``key`` names a message the templates word themselves (``staff/names.html``);
    otherwise ``template`` and ``params`` (a message id and its parameters) are rendered
    in the page's language, after the field's ``label``; ``message`` is the English text.
    """

    message: str
    field: str | None = None
    key: str | None = None
    seconds: int = 0
    template: str | None = None
    params: Mapping[str, Param] = default(default_factory=dict)
    label: str | None = None


def text_of(form_error: FormError, translations: gettext.NullTranslations, locale: str) -> str:
    """A form error in the reader's language: "<label>: <reason>", or the message alone."""
    if form_error.template is None:
        return translations.gettext(form_error.message)
    reason = render_message(translations, locale, form_error.template, form_error.params)
    if form_error.label is None:
        return reason
    return render_message(
        translations,
        locale,
        _FIELD_AND_REASON,
        {"label": translations.gettext(form_error.label), "reason": reason},
    )


def field_errors(problem: Problem, *, inputs: Mapping[str, str] | None = None) -> list[FormError]:
    """A problem's field errors for a form (``inputs`` maps field paths to input names)."""
    out = []
    for error in problem.errors:
        path = error["field"]
        name = (inputs or {}).get(path, path)
        template = getattr(error, "template", None) or error["reason"]
        out.append(
            FormError(
                f"{path}: {error['reason']}",
                name,
                template=template,
                params=getattr(error, "params", {}),
                label=label_of(name) or label_of(path),
            )
        )
    return out


def _api_locale(request: Request) -> tuple[gettext.NullTranslations, str]:
    available = installation_languages()
    choice = negotiate(
        available=available,
        default=available[0],
        accept_language=request.headers.get("accept-language"),
    )
    return translations_for(choice.locale), choice.locale


def localize(problem: Problem, body: dict[str, Any], request: Request) -> str:
    """Put ``body`` (problem+json) in the client's language; return that language's tag.

    The language comes from ``Accept-Language`` among the installation's catalogs.
    """
    translations, locale = _api_locale(request)
    if locale == "en" and not problem.errors:
        return locale
    body["title"] = translations.gettext(problem.title)
    if not problem.errors:
        body["detail"] = render_message(translations, locale, problem.template, problem.params)
        return locale
    messages = []
    for error, shown, form_error in zip(
        problem.errors, body["errors"], field_errors(problem), strict=True
    ):
        template = getattr(error, "template", None) or error["reason"]
        shown["reason"] = render_message(
            translations, locale, template, getattr(error, "params", {})
        )
        shown["message"] = text_of(form_error, translations, locale)
        messages.append(shown["message"])
    if isinstance(problem, ValidationFailed):
        body["detail"] = " ".join(_sentence(m) for m in messages[:5])
    else:
        body["detail"] = render_message(translations, locale, problem.template, problem.params)
    return locale


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?", "\u3002")) else text + "."
