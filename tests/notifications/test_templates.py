"""Templates: fallback, overrides, sandboxing, escaping, and load-time validation."""

from __future__ import annotations

from typing import Any

import pytest

from vaxport.notifications.templates import EVENTS, TemplateError, TemplateSet, default_sources
from vaxport.notifications.validation import (
    check_notification_config,
    validate_notification_config,
)
from vaxport.tenancy.notifications_config import LocaleTemplates

OTP = {"code": "482913", "minutes": 10}


def overrides(raw: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, LocaleTemplates]]:
    return {
        ev: {loc: LocaleTemplates.model_validate(lt) for loc, lt in by.items()}
        for ev, by in raw.items()
    }


def test_shipped_templates_cover_each_event_in_every_shipped_language() -> None:
    sources = default_sources()
    assert set(sources) == set(EVENTS)
    for event in EVENTS:
        assert set(sources[event]) >= {"en", "fr", "es", "sv", "hi"}, event
        for lt in sources[event].values():
            assert lt.sms is not None
            assert lt.email is not None
            assert lt.email.html is not None


@pytest.mark.parametrize(
    ("locale", "default", "used", "phrase"),
    [
        ("fr", "en", "fr", "Votre code vaxport est 482913"),
        ("es-MX", "en", "es", "Su clave vaxport es 482913"),
        ("pt-BR", "fr", "fr", "Votre code"),  # no Portuguese: the tenant's default
        ("sw", "sw", "en", "Your vaxport code is 482913"),  # last resort
        ("EN_gb", "fr", "en", "expires in 10 minutes"),
    ],
)
def test_locale_fallback(locale: str, default: str, used: str, phrase: str) -> None:
    r = TemplateSet(default_locale=default).render(
        event="login_code", locale=locale, kind="sms", context=OTP
    )
    assert r.locale == used
    assert phrase in r.text


def test_tenant_override_wins_per_kind_and_the_rest_falls_back() -> None:
    t = TemplateSet(
        overrides({"login_code": {"fr": {"sms": "Code : {{ code }}"}}}), default_locale="fr"
    )
    assert (
        t.render(event="login_code", locale="fr", kind="sms", context=OTP).text == "Code : 482913"
    )
    email = t.render(event="login_code", locale="fr", kind="email", context=OTP)
    assert email.subject == "Votre code de connexion vaxport"


def test_html_is_escaped_and_text_is_not() -> None:
    ctx = {"code": "<b>&1</b>", "minutes": 10}
    t = TemplateSet()
    email = t.render(event="login_code", locale="en", kind="email", context=ctx)
    assert email.html is not None
    assert "&lt;b&gt;&amp;1&lt;/b&gt;" in email.html
    assert "<b>&1</b>" in email.text
    assert "<b>&1</b>" in t.render(event="login_code", locale="en", kind="sms", context=ctx).text


def test_subject_is_one_line() -> None:
    t = TemplateSet(
        overrides(
            {
                "login_code": {
                    "en": {"email": {"subject": "Code\n{{ code }}\r\nBcc: x", "text": "t"}}
                }
            }
        )
    )
    r = t.render(event="login_code", locale="en", kind="email", context=OTP)
    assert r.subject == "Code 482913 Bcc: x"


def test_missing_variable_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(TemplateError, match="undefined"):
        TemplateSet().render(event="login_code", locale="en", kind="sms", context={"code": "1"})


@pytest.mark.parametrize(
    "source",
    [
        "{{ code.__class__.__mro__ }}",
        "{{ ''.__class__.__subclasses__() }}",
        "{{ 'x' * 100000 }}",
        "{{ 10 ** 100000 }}",
    ],
)
def test_the_sandbox_refuses_unsafe_templates(source: str) -> None:
    t = TemplateSet(overrides({"login_code": {"en": {"sms": source}}}))
    with pytest.raises(TemplateError):
        t.render(event="login_code", locale="en", kind="sms", context=OTP)


def test_unknown_event_is_an_error() -> None:
    with pytest.raises(TemplateError, match="unknown event"):
        TemplateSet().render(event="nope", locale="en", kind="sms", context={})


def test_shipped_defaults_validate_cleanly_for_their_languages() -> None:
    report = check_notification_config(None, default_locale="en", locales=["en", "fr", "es"])
    assert report.problems == []
    assert report.warnings == []


def test_a_locale_without_templates_warns_about_the_fallback() -> None:
    report = check_notification_config({}, default_locale="pt")
    assert report.problems == []
    assert any("login_code.pt.sms" in w and "falls back to en" in w for w in report.warnings)


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            {"templates": {"login_code": {"fr": {"sms": "Code {{ code "}}}},
            "notifications.templates.login_code.fr.sms: syntax error on line 1",
        ),
        (
            {"templates": {"login_code": {"fr": {"sms": "Code {{ cod }}"}}}},
            "notifications.templates.login_code.fr.sms: undefined variable ('cod' is undefined)",
        ),
        (
            {"templates": {"login_code": {"fr": {"email": {"subject": "x", "html": "<p>"}}}}},
            "notifications.templates.login_code.fr.email.text: Field required",
        ),
        (
            {"templates": {"no_such_event": {"en": {"sms": "x"}}}},
            "notifications.templates.no_such_event: unknown event",
        ),
        (
            {"templates": {"login_code": {"english": {"sms": "x"}}}},
            "not a locale tag",
        ),
        (
            {
                "sms_max_segments": 1,
                "templates": {"login_code": {"en": {"sms": "{{ code }} " * 20}}},
            },
            "notifications.templates.login_code.en.sms: 2 SMS parts (179 GSM-7 units)",
        ),
        (
            {"channels": [{"name": "m", "type": "smtp", "options": {"sender": "a@example.org"}}]},
            "notifications.channels.0.options.host: Field required",
        ),
        (
            {"channels": [{"name": "m", "type": "twilio", "options": {"auth_token": "x"}}]},
            "notifications.channels.0.options: 'auth_token' would put a secret",
        ),
        (
            {"channels": [{"name": "m", "type": "carrier-pigeon"}]},
            "notifications.channels.0",
        ),
        ({"routes": {"sms": "missing"}}, "routes.sms: no channel named 'missing'"),
        (
            {
                "channels": [
                    {
                        "name": "mail",
                        "type": "smtp",
                        "options": {"host": "smtp.example.org", "sender": "a@example.org"},
                    }
                ],
                "routes": {"sms": "mail"},
            },
            "routes.sms: channel 'mail' (smtp) cannot send sms",
        ),
        ({"unexpected": 1}, "notifications.unexpected: Extra inputs are not permitted"),
    ],
)
def test_validation_reports_path_and_reason(section: dict[str, Any], expected: str) -> None:
    problems = validate_notification_config(section, default_locale="en")
    assert any(expected in p for p in problems), problems


def test_template_syntax_errors_are_reported_alongside_other_problems() -> None:
    problems = validate_notification_config(
        {"caps": {"per_hour": 0}, "templates": {"login_code": {"en": {"sms": "{% if %}"}}}}
    )
    assert any(p.startswith("notifications.caps.per_hour") for p in problems)
    assert any(p.startswith("notifications.templates.login_code.en.sms: syntax") for p in problems)


def test_ucs2_override_warns_but_passes_within_the_limit() -> None:
    report = check_notification_config(
        {"templates": {"login_code": {"es": {"sms": "Su código es {{ code }}."}}}}
    )
    assert report.problems == []
    assert any("'ó' forces UCS-2" in w for w in report.warnings)


def test_every_registered_event_has_english_templates() -> None:
    for event in EVENTS:
        TemplateSet().resolve(event=event, locale="en", kind="sms")
        TemplateSet().resolve(event=event, locale="en", kind="email")
