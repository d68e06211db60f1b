"""Message templates: per tenant, event, locale and channel kind, rendered in a sandbox.

Sources come from the shipped defaults (``defaults/templates.yaml``) overridden by the
tenant's ``notifications.templates``. Rendering uses Jinja2's sandbox with
``StrictUndefined`` (a misspelt variable is an error, not an empty string) and HTML
autoescaping for e-mail HTML only. Every template is compiled and test-rendered with
its event's sample values when a country file is loaded (see :mod:`.validation`), so
a broken template is refused then, not discovered when a citizen needs a login code.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal

import jinja2
import yaml
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from vaxport.tenancy.service import EmailTemplate, LocaleTemplates

TemplateKind = Literal["sms", "email"]
MAX_RENDERED_CHARS = 100_000
_MAX_OPERAND_CHARS = 10_000


class TemplateError(Exception):
    """A template is missing, does not compile, or fails to render (``path: reason``)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True, slots=True)
class EventSpec:
    """A message-producing event: its name and sample values for test renders.

    Samples are worst-case sized (longest code, two-digit minutes) so that the SMS
    length check at load time is honest.
    """

    name: str
    sample: Mapping[str, Any]
    description: str = ""
    # Sent even to people who opted out of non-essential messages (login codes,
    # certificate notices); reminders and campaigns are not essential.
    essential: bool = False


# Sample values of the appointment messages: a long centre name and address, the longest
# English date, a 12-hour time. Dates in other languages may be longer or leave GSM-7.
_APPOINTMENT: Mapping[str, Any] = MappingProxyType(
    {
        "code": "ABCDEFGH",
        "place": "Centre de vaccination communautaire de l'hopital regional "
        "Saint-Jean-Baptiste-de-la-Salle, aile Nord, rez-de-chaussee, porte C",
        "address": "1200 boulevard des Hauts-Plateaux-du-Nord, bureau 300, "
        "Saint-Jean-Baptiste-de-la-Salle, Demoland A1B 2C3",
        "date": "Wednesday, September 30, 2026",
        "time": "10:30 AM",
    }
)
_SEARCH_URL = "https://vaccination.ministry-of-health.example/example-in/slots"
_URL = "https://vaccination.ministry-of-health.example/example-in/appointments"

# The messages vaxport sends, declared as data: each has default templates in
# ``notifications/defaults`` and sample values for the load-time checks. A context whose
# use case sends a message adds its spec here with its templates: one catalogue, nothing
# registered at import.
MESSAGE_EVENTS: tuple[EventSpec, ...] = (
    EventSpec(
        name="login_code",
        sample={"code": "12345678", "minutes": 15},
        description="one-time login code (OTP)",
        essential=True,
    ),
    EventSpec(
        name="account_recovered",
        sample={
            "undo_url": "https://vaxport.example/demo/recover/undo?token=EXAMPLE",
            "undo_code": "EXAMPLE",
            "hold_hours": 72,
        },
        description="a citizen account moved to a new phone: the old phone and e-mail are told",
        essential=True,
    ),
    EventSpec(
        name="staff_invitation",
        sample={
            "activation_url": "https://vaccination.ministry-of-health.example/example-in/staff/"
            "activate?token=inv_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG",
            "username": "firstname.lastname-of-64-characters-at-most",
            "expires": "2026-12-31 23:59",
            "reset": True,
        },
        description="a staff member's activation link: an invitation or a sign-in reset",
        essential=True,
    ),
    EventSpec(
        name="test_message",
        sample={"tenant_name": "Ministry of Health of Demoland"},
        description="operator-triggered check that a channel works",
    ),
    # Appointments (the scheduling context queues these, see scheduling/messages.py):
    # ``date`` and ``time`` come formatted in the message's language and the tenant's
    # time zone; ``place`` is the centre's name in that language (SMS texts truncate it).
    EventSpec(
        name="appointment_booked",
        sample=_APPOINTMENT,
        description="a vaccination appointment was booked: its code, place and time",
        essential=True,
    ),
    EventSpec(
        name="appointment_rescheduled",
        sample=_APPOINTMENT,
        description="an appointment moved to another slot (with its new booking code)",
        essential=True,
    ),
    EventSpec(
        name="appointment_cancelled",
        sample=_APPOINTMENT,
        description="an appointment was cancelled by the person or by staff",
        essential=True,
    ),
    EventSpec(
        name="appointment_released",
        sample={**_APPOINTMENT, "search_url": _SEARCH_URL},
        description="the session was cancelled: the appointment ended, book again (link)",
        essential=True,
    ),
    EventSpec(
        name="appointment_offer",
        sample={**_APPOINTMENT, "hold_until": "Tuesday, September 29, 2026, 10:30 PM", "url": _URL},
        description="a waitlist offer: a seat held for the person until a deadline",
        essential=True,
    ),
    EventSpec(
        name="appointment_reminder",
        sample=_APPOINTMENT,
        description="the day before the appointment (dropped if it changed meanwhile)",
    ),
    EventSpec(
        name="dose_next_due",
        sample={
            "dose_number": 12,
            "date": "Wednesday, September 30, 2026",
            "url": "https://vaccination.ministry-of-health.example/example-in/slots",
        },
        description="the next dose of a series is due (dropped if it was given meanwhile)",
    ),
)
# Adverse events (the immunization context queues these for admins, see
# immunization/aefi/messages.py): product and region names, the lot number and a link;
# never the person or their symptoms.
_AEFI: Mapping[str, Any] = MappingProxyType(
    {
        "product": "Comirnaty Original/Omicron BA.4-5 (Pfizer-BioNTech) 30 mcg",
        "lot": "ABCDEFGHIJKLMNOP-0123456789",
        "region": "Saint-Jean-Baptiste-de-la-Salle-des-Hauts-Plateaux",
        "url": "https://vaccination.ministry-of-health.example/api/v1/example-in/aefi/"
        "0190f7a2-8a5c-7c3e-9f1a-2b3c4d5e6f70",
    }
)
MESSAGE_EVENTS += (
    EventSpec(
        name="aefi_serious",
        sample=_AEFI,
        description="a serious adverse event was reported in the admin's region",
        essential=True,
    ),
    EventSpec(
        name="lot_flagged",
        sample=_AEFI,
        description="serious adverse event reports on a lot reached the threshold",
        essential=True,
    ),
)
# Certificates (the certificates context queues this when it issues or reissues one):
# a link to the person's certificate page. Essential: a certificate is what travels.
MESSAGE_EVENTS += (
    EventSpec(
        name="certificate_ready",
        sample={"url": "https://vaccination.ministry-of-health.example/example-in/certificates"},
        description="a certificate was issued or reissued: the link to the certificate page",
        essential=True,
    ),
)
EVENTS: Mapping[str, EventSpec] = MappingProxyType({e.name: e for e in MESSAGE_EVENTS})


class _Sandbox(SandboxedEnvironment):
    """The sandbox, also refusing string/list blow-ups such as ``'x' * 10**9``."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(
        self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any
    ) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise SecurityError("exponent too large")
        if operator == "*":
            seq, times = (left, right) if isinstance(right, int) else (right, left)
            if (
                isinstance(seq, str | list | tuple)
                and isinstance(times, int)
                and len(seq) * times > _MAX_OPERAND_CHARS
            ):
                raise SecurityError("repetition too large")
        return super().call_binop(context, operator, left, right)


def _env(*, html: bool) -> _Sandbox:
    return _Sandbox(
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        auto_reload=False,
    )


_TEXT = _env(html=False)
_HTML = _env(html=True)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered message: SMS has ``text`` only; e-mail has subject, text, maybe HTML."""

    locale: str
    text: str
    subject: str | None = None
    html: str | None = None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sms: jinja2.Template | None
    subject: jinja2.Template | None
    text: jinja2.Template | None
    html: jinja2.Template | None

    def has(self, kind: TemplateKind) -> bool:
        return self.sms is not None if kind == "sms" else self.text is not None


def _compile_one(
    source: str, *, html: bool, path: str, problems: list[str]
) -> jinja2.Template | None:
    try:
        return (_HTML if html else _TEXT).from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        problems.append(f"{path}: syntax error on line {exc.lineno}: {exc.message}")
    return None


def _compile_locale(lt: LocaleTemplates, path: str, problems: list[str]) -> _Compiled:
    email: EmailTemplate | None = lt.email
    sms = (
        _compile_one(lt.sms, html=False, path=f"{path}.sms", problems=problems) if lt.sms else None
    )
    subject = text = html = None
    if email is not None:
        subject = _compile_one(
            email.subject, html=False, path=f"{path}.email.subject", problems=problems
        )
        text = _compile_one(email.text, html=False, path=f"{path}.email.text", problems=problems)
        if email.html is not None:
            html = _compile_one(email.html, html=True, path=f"{path}.email.html", problems=problems)
        if subject is None or text is None:
            subject = text = html = None
    return _Compiled(sms=sms, subject=subject, text=text, html=html)


Sources = Mapping[str, Mapping[str, LocaleTemplates]]


def compile_sources(
    sources: Sources, *, prefix: str
) -> tuple[dict[tuple[str, str], _Compiled], list[str]]:
    """Compile every (event, locale); problems as ``path: reason``."""
    compiled: dict[tuple[str, str], _Compiled] = {}
    problems: list[str] = []
    for event, by_locale in sources.items():
        for locale, lt in by_locale.items():
            compiled[(event, locale)] = _compile_locale(lt, f"{prefix}.{event}.{locale}", problems)
    return compiled, problems


@functools.cache
def default_sources() -> dict[str, dict[str, LocaleTemplates]]:
    """The shipped templates."""
    text = (
        resources.files("vaxport.notifications")
        .joinpath("defaults/templates.yaml")
        .read_text("utf-8")
    )
    raw = yaml.safe_load(text)
    return {
        event: {locale: LocaleTemplates.model_validate(lt) for locale, lt in by_locale.items()}
        for event, by_locale in raw.items()
    }


@functools.cache
def _compiled_defaults() -> dict[tuple[str, str], _Compiled]:
    compiled, problems = compile_sources(default_sources(), prefix="defaults")
    if problems:  # a packaging bug, caught by the test suite
        raise TemplateError("defaults", "; ".join(problems))
    return compiled


def normalize_locale(locale: str) -> str:
    """``pt_BR`` / ``PT-br`` -> ``pt-BR``; ``FR`` -> ``fr``."""
    parts = re.split(r"[-_]", locale.strip())
    head = parts[0].lower()
    rest = [p.upper() if len(p) == 2 else p for p in parts[1:] if p]
    return "-".join([head, *rest])


def _locale_chain(locale: str, default_locale: str) -> Iterator[str]:
    seen: set[str] = set()
    for tag in (locale, default_locale, "en"):
        norm = normalize_locale(tag) if tag else ""
        for candidate in (norm, norm.split("-")[0]):
            if candidate and candidate not in seen:
                seen.add(candidate)
                yield candidate


def _render(template: jinja2.Template, context: Mapping[str, Any], path: str) -> str:
    try:
        out = template.render(context)
    except jinja2.UndefinedError as exc:
        raise TemplateError(path, f"undefined variable ({exc.message})") from None
    except SecurityError as exc:
        raise TemplateError(path, f"refused by the sandbox ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - any template bug becomes one reported error
        raise TemplateError(path, f"render failed ({type(exc).__name__})") from None
    if len(out) > MAX_RENDERED_CHARS:
        raise TemplateError(path, f"renders to more than {MAX_RENDERED_CHARS} characters")
    return out


class TemplateSet:
    """The effective templates of one tenant (its overrides over the shipped defaults).

    Lookup for (event, locale, kind): the tenant's then the shipped template for the
    requested locale, then its language without region, then the tenant's default
    locale, then English. Build once per tenant configuration and reuse.
    """

    def __init__(self, overrides: Sources | None = None, *, default_locale: str = "en") -> None:
        compiled, problems = compile_sources(overrides or {}, prefix="templates")
        if problems:
            raise TemplateError("templates", "; ".join(problems))
        self._overrides = compiled
        self._defaults = _compiled_defaults()
        self.default_locale = normalize_locale(default_locale or "en")

    @classmethod
    def _from_compiled(
        cls, compiled: dict[tuple[str, str], _Compiled], default_locale: str
    ) -> TemplateSet:
        obj = cls.__new__(cls)
        obj._overrides = compiled
        obj._defaults = _compiled_defaults()
        obj.default_locale = normalize_locale(default_locale or "en")
        return obj

    def resolve(self, *, event: str, locale: str, kind: TemplateKind) -> tuple[str, str, _Compiled]:
        """(source, locale, compiled) of the template used; raises if there is none."""
        if event not in EVENTS:
            raise TemplateError(event, "unknown event")
        for candidate in _locale_chain(locale, self.default_locale):
            for source, table in (("templates", self._overrides), ("defaults", self._defaults)):
                found = table.get((event, candidate))
                if found is not None and found.has(kind):
                    return source, candidate, found
        raise TemplateError(f"templates.{event}", f"no {kind} template in any fallback locale")

    def render(
        self,
        *,
        event: str,
        locale: str,
        kind: TemplateKind,
        context: Mapping[str, Any],
    ) -> Rendered:
        """Render ``event`` for ``kind`` in ``locale`` (or its fallback)."""
        source, used, c = self.resolve(event=event, locale=locale, kind=kind)
        path = f"{source}.{event}.{used}.{kind}"
        if kind == "sms":
            assert c.sms is not None
            return Rendered(locale=used, text=_render(c.sms, context, path).strip())
        assert c.subject is not None
        assert c.text is not None
        subject = " ".join(_render(c.subject, context, f"{path}.subject").split())
        if not subject:
            raise TemplateError(f"{path}.subject", "renders empty")
        text = _render(c.text, context, f"{path}.text")
        html = _render(c.html, context, f"{path}.html") if c.html is not None else None
        return Rendered(locale=used, subject=subject, text=text, html=html)

    def locales_for(self, event: str) -> set[str]:
        """Every locale with a template for ``event`` (tenant's or shipped)."""
        return {loc for (ev, loc) in (*self._overrides, *self._defaults) if ev == event}
