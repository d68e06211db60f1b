"""Every language a tenant declares is complete: its catalog translates every text of the
pages, messages and errors, and every notification has a template in it; or the tenant
declares, explicitly, which of its languages fills the gaps."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.parts import RULES
from tests.support.tenants import load_tenant
from tests.tenancy.helpers import COUNTRIES, demo_config
from tests.tenancy.test_config_validation import problems_of
from vaxport.core.db import Database
from vaxport.core.i18n import missing_translations, source_messages
from vaxport.notifications.templates import EVENTS, TemplateSet
from vaxport.tenancy.validation import validate_file, validate_text


def _tenant_languages() -> list[tuple[str, str]]:
    """(country file, language) for every language a shipped tenant serves itself."""
    found = []
    for path in sorted(COUNTRIES.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        fallbacks = data.get("language_fallbacks") or {}
        found += [(path.name, loc) for loc in data["locales"] if loc not in fallbacks]
    return found


@pytest.mark.parametrize(("country", "locale"), _tenant_languages())
def test_each_language_of_a_shipped_tenant_has_a_complete_catalog(
    country: str, locale: str
) -> None:
    missing = missing_translations(locale)
    # The message lists what to translate: src/vaxport/locales/<locale>/LC_MESSAGES.
    assert missing == (), f"{country}: {locale} lacks {len(missing)} texts:\n" + "\n".join(
        f"  msgid {m!r}" for m in missing
    )


@pytest.mark.parametrize(("country", "locale"), _tenant_languages())
def test_each_language_of_a_shipped_tenant_has_every_message_template(
    country: str, locale: str
) -> None:
    templates = TemplateSet()
    language = locale.replace("_", "-").split("-")[0]
    for event in EVENTS:
        for kind in ("sms", "email"):
            _, used, _ = templates.resolve(event=event, locale=locale, kind=kind)
            assert used.split("-")[0] == language, f"{country}: {event} {kind} in {used}"


def test_the_shipped_catalogs_include_swedish_and_hindi() -> None:
    total = len(source_messages())
    assert total > 250
    for locale in ("sv", "hi", "fr", "es", "en_IN"):
        assert missing_translations(locale) == (), locale
    assert len(missing_translations("fi")) == total  # no catalog: every text missing


def test_a_language_without_a_complete_catalog_is_refused_naming_it() -> None:
    data = demo_config()
    data["locales"] = ["en", "fr", "fi"]
    problems = problems_of(data)
    assert "'fi' has no complete catalog" in problems["locales.2"]
    # Its messages too: every notification would go out in another language.
    assert "no template in 'fi'" in problems["notifications.templates.login_code.fi.sms"]
    assert {f for f in problems if not f.startswith("notifications.templates.")} == {"locales.2"}
    assert "language_fallbacks" in problems["locales.2"]  # says how to go on


def test_a_declared_fallback_lets_the_language_in() -> None:
    data = demo_config()
    data.update(locales=["en", "fr", "fi"], language_fallbacks={"fi": "fr"})
    config = validate_text(yaml.safe_dump(data), source="t.yaml", rules=RULES)
    assert config.fallbacks == {"fi": "fr"}


@pytest.mark.parametrize(
    ("fallbacks", "field", "reason"),
    [
        ({"fi": "sv"}, "language_fallbacks.fi", "'sv', which is not one of locales"),
        ({"de": "en"}, "language_fallbacks.de", "'de' is not one of locales"),
        ({"fi": "fi"}, "language_fallbacks.fi", "not complete itself"),
    ],
)
def test_a_fallback_must_be_another_complete_language_of_the_tenant(
    fallbacks: dict[str, str], field: str, reason: str
) -> None:
    data = demo_config()
    data.update(locales=["en", "fr", "fi"], language_fallbacks=fallbacks)
    problems = problems_of(data)
    assert field in problems
    assert reason in problems[field]


def test_a_tenant_without_fallbacks_keeps_its_configuration_hash(tmp_path: Path) -> None:
    # language_fallbacks is left out of the stored document when absent.
    config = validate_file(COUNTRIES / "demo.yaml", rules=RULES)
    assert "language_fallbacks" not in config.model_dump()


async def test_a_fallback_language_page_fills_its_gaps_from_the_declared_language(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    await load_tenant(
        clean_db,
        code="se",
        changes={
            "locales": ["sv", "en", "fi"],
            "default_locale": "sv",
            "language_fallbacks": {"fi": "sv"},
            "phone": {"country_code": 46, "default_region": "SE"},
        },
    )
    finnish = await client.get("/se/sign-in?lang=fi")
    assert '<html lang="fi"' in finnish.text
    assert "Skicka en kod till mig" in finnish.text  # Swedish, as declared, not English
    swedish = await client.get("/se/sign-in?lang=sv")
    assert '<html lang="sv"' in swedish.text
    assert "<h1>Logga in</h1>" in swedish.text
    # The hint's example number is Swedish, as people there write one.
    assert "Till exempel 070-123 45 67 eller namn@exempel.se." in swedish.text


async def test_phone_examples_come_from_the_tenant_region(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    await load_tenant(
        clean_db,
        code="in",
        changes={
            "locales": ["en", "hi"],
            "phone": {"country_code": 91, "default_region": "IN"},
        },
    )
    english = await client.get("/in/sign-in?lang=en")
    assert "For example 081234 56789, or name@example.org." in english.text
    assert "416 555" not in english.text
    hindi = await client.get("/in/sign-in?lang=hi")
    assert "उदाहरण: 081234 56789, या name@example.org।" in hindi.text
    recover = await client.get("/in/recover?lang=en&method=id-dob")
    assert "For example 081234 56789." in recover.text
