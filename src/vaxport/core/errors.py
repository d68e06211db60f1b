"""RFC 9457 problem details: the one shape of every 4xx/5xx answer.

Services raise :class:`Problem` subclasses; the app turns them (and FastAPI's own
validation and HTTP errors) into ``application/problem+json`` bodies. Validation problems
carry ``errors: [{"field": "a.b.0", "code": "...", "reason": "..."}]``.

A field error's reason is a message id with ``{named}`` parameters (:func:`field_error`):
the English text is what services and logs see; pages and API answers render it again in
the reader's language through :mod:`vaxport.core.i18n` (``web/problems.py``). ``field`` and
``code`` are the stable, machine-readable parts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from vaxport.core.i18n import N_, Param, render_message

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):  # noqa: N818 - the RFC's own name reads better than *Error
    """A domain error with an HTTP status, a stable type slug and optional field errors."""

    status: int = 400
    slug: str = "bad-request"
    title: str = N_("Bad request")

    def __init__(
        self,
        detail: str | None = None,
        *,
        params: Mapping[str, Param] | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        # ``detail`` is a message id like a field error's reason, its ``{name}``s filled
        # from ``params``; ``detail`` itself is the English text services and logs see.
        self.template = detail or self.title
        self.params: Mapping[str, Param] = params or {}
        self.detail = render_message(None, "en", self.template, self.params)
        super().__init__(self.detail)
        self.errors = errors or []
        self.headers = headers or {}
        self.extra = extra

    def to_dict(self, instance: str | None = None) -> dict[str, Any]:
        """The problem+json body."""
        body: dict[str, Any] = {
            "type": f"https://vaxport.org/problems/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = [
                {"field": e["field"], "code": error_code(e), "reason": e["reason"]}
                | {k: v for k, v in e.items() if k not in ("field", "reason")}
                for e in self.errors
            ]
        body.update(self.extra)
        return body


class BadRequest(Problem):
    status, slug, title = 400, "bad-request", N_("Bad request")


class Unauthorized(Problem):
    status, slug, title = 401, "unauthorized", N_("Authentication required")


class Forbidden(Problem):
    status, slug, title = 403, "forbidden", N_("Forbidden")


class NotFound(Problem):
    status, slug, title = 404, "not-found", N_("Not found")


class MethodNotAllowed(Problem):
    status, slug, title = 405, "method-not-allowed", N_("Method not allowed")


class Conflict(Problem):
    status, slug, title = 409, "conflict", N_("Conflict")


class Gone(Problem):
    status, slug, title = 410, "gone", N_("Gone")


class PayloadTooLarge(Problem):
    status, slug, title = 413, "payload-too-large", N_("Request body too large")


class UnsupportedMediaType(Problem):
    status, slug, title = 415, "unsupported-media-type", N_("Unsupported media type")


class ValidationFailed(Problem):
    status, slug, title = 422, "validation-failed", N_("Validation failed")


class TooManyRequests(Problem):
    status, slug, title = 429, "rate-limited", N_("Too many requests")


class ServiceUnavailable(Problem):
    status, slug, title = 503, "unavailable", N_("Service unavailable")


# A reason many fields share: ``choices`` lists the accepted values.
ONE_OF = N_("must be one of {choices}")


class FieldError(dict[str, str]):
    """One entry of a problem's ``errors``: a plain ``{"field", "reason"}`` mapping that
    also keeps the reason's message id, its parameters and its stable code."""

    template: str
    params: Mapping[str, Param]
    code: str


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower())[:64].strip("-") or "invalid"


def error_code(error: Mapping[str, str]) -> str:
    """The stable code of a field error: given, else derived from its message id."""
    code = getattr(error, "code", None) or error.get("code")
    return code or _slug(getattr(error, "template", None) or error.get("reason", ""))


def field_error(field: str, reason: str, *, code: str | None = None, **params: Param) -> FieldError:
    """One entry of a problem's ``errors`` list.

    ``reason`` is a message id (mark it with ``N_`` to have it translated) whose
    ``{name}`` placeholders are filled from ``params``; it says what is wrong and what to
    do, without naming the field (pages and API answers prefix the field's label).
    """
    error = FieldError(field=field, reason=render_message(None, "en", reason, params))
    error.template = reason
    error.params = params
    error.code = code or _slug(reason)
    return error


def invalid(
    field: str, reason: str, *, code: str | None = None, **params: Param
) -> ValidationFailed:
    """A 422 about one field."""
    error = field_error(field, reason, code=code, **params)
    return ValidationFailed(f"{field}: {error['reason']}", errors=[error])


# Pydantic's error types as our message ids (the type is the stable code).
_PYDANTIC: dict[str, str] = {
    "missing": N_("is required: fill it in"),
    "string_too_short": N_("is too short: use at least {min_length} characters"),
    "string_too_long": N_("is too long: use at most {max_length} characters"),
    "too_long": N_("has too many entries: give at most {max_length}"),
    "too_short": N_("has too few entries: give at least {min_length}"),
    "string_pattern_mismatch": N_("is not in the expected format: check what you typed"),
    "uuid_parsing": N_("is not a valid identifier: choose one from the list"),
    "uuid_type": N_("is not a valid identifier: choose one from the list"),
    "date_from_datetime_parsing": N_("is not a date: write it as YYYY-MM-DD"),
    "date_parsing": N_("is not a date: write it as YYYY-MM-DD"),
    "date_type": N_("is not a date: write it as YYYY-MM-DD"),
    "int_parsing": N_("is not a whole number: type digits only"),
    "int_type": N_("is not a whole number: type digits only"),
    "float_parsing": N_("is not a number: type digits only"),
    "greater_than_equal": N_("is too small: use {ge} or more"),
    "less_than_equal": N_("is too large: use {le} or less"),
    "greater_than": N_("is too small: use more than {gt}"),
    "less_than": N_("is too large: use less than {lt}"),
    "literal_error": N_("is not one of the choices: use one of {expected}"),
    "enum": N_("is not one of the choices: use one of {expected}"),
    "extra_forbidden": N_("is not a known field: leave it out"),
    "bool_parsing": N_("must be true or false"),
    "string_type": N_("must be text"),
    "json_invalid": N_("is not valid JSON: check the request body"),
    "json_too_deep": N_("nests deeper than {limit} levels: send a flatter document"),
    "json_duplicate_key": N_("appears twice: send each field once"),
    "string_nul": N_("holds a NUL character: remove it"),
}


def from_validation(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Pydantic's (or FastAPI's) validation errors as our field errors.

    The field is the location without a leading ``body``; the code is pydantic's error
    type; messages a validator wrote itself keep their text (and code by their words).
    """
    out: list[dict[str, str]] = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ())]
        if loc and loc[0] == "body":
            loc = loc[1:]
        field = ".".join(loc) or "body"
        kind = str(e.get("type", "invalid"))
        template = _PYDANTIC.get(kind)
        if template is None:
            msg = str(e.get("msg", "is invalid"))
            template = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
            params: dict[str, Param] = {}
        else:
            ctx = e.get("ctx") or {}
            params = {k: v if isinstance(v, int | float) else str(v) for k, v in ctx.items()}
        code = kind if kind in _PYDANTIC else None  # our validators' own words: their slug
        out.append(field_error(field, template, code=code, **params))
    return out


_BY_STATUS: dict[int, type[Problem]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        Gone,
        PayloadTooLarge,
        UnsupportedMediaType,
        ValidationFailed,
        TooManyRequests,
        ServiceUnavailable,
    )
}


def problem_for_status(status: int, detail: str | None = None) -> Problem:
    """The problem matching an HTTP status (for framework-raised errors)."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        p = Problem(detail)
        p.status = status
        return p
    return cls(detail)
