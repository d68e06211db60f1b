"""The tenant's notifications section: checked at ``vaxport tenant load``, used at send time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.notifications.dispatch_support import (
    PHONE,
    notifications,
    queue,
    run_worker,
    tenant_with,
)
from tests.support.parts import RULES
from tests.tenancy.helpers import COUNTRIES, demo_config
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.notifications import support
from vaxport.settings import Settings
from vaxport.tenancy.validation import ConfigInvalid, validate_file, validate_text

pytestmark = pytest.mark.usefixtures("dispatch_env")


def _problems(section: dict[str, Any], **changes: Any) -> dict[str, str]:
    data = demo_config()
    data["notifications"] = section
    data.update(changes)
    with pytest.raises(ConfigInvalid) as info:
        validate_text(yaml.safe_dump(data, allow_unicode=True), source="t.yaml", rules=RULES)
    return {p.field: p.reason for p in info.value.problems}


@pytest.mark.parametrize("path", sorted(COUNTRIES.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_country_files_have_valid_notification_sections(path: Path) -> None:
    config = validate_file(path, rules=RULES)
    assert config.notifications.routes  # every shipped file says where messages go


def test_a_template_that_does_not_compile_is_refused_at_load_with_its_path() -> None:
    found = _problems(notifications(templates={"login_code": {"fr": {"sms": "Code {{ code }"}}}))
    assert list(found) == ["notifications.templates.login_code.fr.sms"]
    assert "syntax error" in found["notifications.templates.login_code.fr.sms"]


def test_a_template_using_an_unknown_variable_is_refused_at_load() -> None:
    found = _problems(
        notifications(templates={"login_code": {"en": {"sms": "Hi {{ name }}: {{ code }}"}}})
    )
    assert "undefined variable" in found["notifications.templates.login_code.en.sms"]


def test_an_sms_template_too_long_for_the_tenant_is_refused_at_load() -> None:
    long_text = "Votre code est {{ code }}. " + "Ne le partagez avec personne. " * 12
    found = _problems(
        notifications(sms_max_segments=2, templates={"login_code": {"fr": {"sms": long_text}}})
    )
    assert "SMS parts" in found["notifications.templates.login_code.fr.sms"]


def test_templates_for_unknown_events_are_refused_at_load() -> None:
    found = _problems(notifications(templates={"birthday": {"en": {"sms": "Hi"}}}))
    assert "unknown event" in found["notifications.templates.birthday"]


def test_a_route_to_a_missing_channel_is_refused_at_load() -> None:
    found = _problems(notifications(sms="gateway"))
    assert found["notifications.routes.sms"].startswith("no channel named 'gateway'")


async def test_a_locale_without_templates_falls_back_at_send_time(
    clean_db: Database, cache: Cache, fast: Settings
) -> None:
    # Finnish has no templates: the tenant default (en) is used; fr-CA uses fr.
    tenant = await tenant_with(
        clean_db,
        notifications(
            templates={
                "test_message": {"fr": {"sms": "Test de {{ tenant_name }} (modèle du pays)"}}
            }
        ),
    )
    await queue(clean_db, tenant, to=PHONE, locale="fi-FI", dedup_key="a")
    await queue(clean_db, tenant, to=PHONE, locale="fr-CA", dedup_key="b")

    await run_worker(clean_db, cache, fast)

    shown = {m.locale: m.text for m in await support.list_console_messages(settings=fast)}
    assert shown["en"].startswith("This is a test message from Demoland")
    assert shown["fr"] == "Test de Demoland (modèle du pays)"
