"""Every language a tenant has gets its own appointment texts; a tenant may override them
(checked when its file loads); the person's language is chosen among the tenant's."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.facilities.helpers import body as facility_body
from tests.notifications.dispatch_support import notifications, sms_http, tenant_with
from tests.notifications.peers import RunningHttpPeer
from tests.registration.conftest import make_facility
from tests.scheduling.conftest import REGION
from tests.scheduling.messages.support import book, person, session_at, settle, texts
from tests.support.parts import RULES
from tests.tenancy.helpers import demo_config
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.facilities import service as facilities
from vaxport.facilities.schemas import FacilityCreate
from vaxport.settings import Settings
from vaxport.tenancy.validation import ConfigInvalid, validate_text

PHONE = "+15145550144"


@pytest.mark.parametrize(
    ("locales", "wanted", "expected"),
    [
        (
            ["en", "es"],
            "es",
            "Vacunacion reservada: martes, 4 de junio de 2030, 10:00, Centro de salud de "
            "Hillcrest.",
        ),
        (["en", "fr"], "fr-CA", "Vaccination réservée : mardi 4 juin 2030, 10:00, "),
        (["en", "fr"], "sw", "Vaccination booked: Tuesday, June 4, 2030, 10:00 AM, "),
    ],
    ids=["spanish", "french-of-another-region", "unknown-language-gets-the-default"],
)
async def test_the_confirmation_is_in_the_persons_language_among_the_tenants(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    http_peer: RunningHttpPeer,
    dispatch_env: None,
    locales: list[str],
    wanted: str,
    expected: str,
) -> None:
    section = notifications(sms_http(http_peer.url), sms="gateway")
    tenant = await tenant_with(clean_db, section, locales=locales)
    names = {
        "en": "Hillcrest Health Centre",
        "es": "Centro de salud de Hillcrest",
        "fr": "Centre de santé de Hillcrest",
    }
    data = FacilityCreate.model_validate(
        facility_body(code="HC-9", region_code=REGION, name={k: names[k] for k in locales})
    )
    centre = (await facilities.create(db=clean_db, cache=cache, tenant=tenant, data=data)).id
    seeded = await session_at(clean_db, tenant, centre)
    someone = await person(clean_db, tenant, phone=PHONE, locale=wanted)
    booked = await book(clean_db, tenant, seeded.slot_ids[0], someone)

    await settle(clean_db, cache, fast)

    [(_, text)] = [t for t in texts(http_peer) if not t[1].startswith(("Rec", "Rap", "Rem"))]
    assert text.startswith(expected)
    assert booked.booking_code in text


async def test_a_tenants_own_template_is_the_one_sent(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    http_peer: RunningHttpPeer,
    dispatch_env: None,
) -> None:
    own = {"appointment_booked": {"en": {"sms": "Booked {{ code }}, {{ date }} {{ time }}."}}}
    section = notifications(sms_http(http_peer.url), sms="gateway", templates=own)
    tenant = await tenant_with(clean_db, section)
    centre = await make_facility(clean_db, cache, tenant, code="HC-9", region_code=REGION)
    seeded = await session_at(clean_db, tenant, centre)
    booked = await book(
        clean_db, tenant, seeded.slot_ids[0], await person(clean_db, tenant, phone=PHONE)
    )

    await settle(clean_db, cache, fast)

    assert (
        texts(http_peer)[0][1] == f"Booked {booked.booking_code}, Tuesday, June 4, 2030 10:00 AM."
    )


def _problems(section: dict[str, Any], **changes: Any) -> dict[str, str]:
    data = demo_config()
    data["notifications"] = section
    data.update(changes)
    with pytest.raises(ConfigInvalid) as info:
        validate_text(yaml.safe_dump(data, allow_unicode=True), source="t.yaml", rules=RULES)
    return {p.field: p.reason for p in info.value.problems}


def test_an_appointment_template_naming_the_persons_name_is_refused_at_load() -> None:
    own = {"appointment_reminder": {"fr": {"sms": "Bonjour {{ given_name }}, {{ date }}"}}}
    found = _problems(notifications(templates=own))
    assert "undefined variable" in found["notifications.templates.appointment_reminder.fr.sms"]


def test_a_tenant_language_without_appointment_texts_is_refused_unless_it_falls_back() -> None:
    data = demo_config()
    data["locales"] = ["en", "fr", "pt"]
    with pytest.raises(ConfigInvalid) as info:
        validate_text(yaml.safe_dump(data, allow_unicode=True), source="t.yaml", rules=RULES)
    fields = {p.field for p in info.value.problems}
    assert "notifications.templates.appointment_reminder.pt.sms" in fields
