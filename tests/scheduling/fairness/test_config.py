"""``booking.fairness`` in a country file: the release window and the offer hold."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import yaml

from tests.registration.conftest import citizen_token, make_facility
from tests.scheduling.fairness.support import people, released_session
from tests.support.parts import RULES
from tests.support.tenants import load_tenant
from tests.tenancy.test_config_validation import SOURCE, mutated, problems_of
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.scheduling.release import fairness_of
from vaxport.settings import Settings
from vaxport.tenancy.loader import config_document
from vaxport.tenancy.schemas import TenantInfo
from vaxport.tenancy.validation import validate_text


def _fairness(**values: Any) -> dict[str, Any]:
    def change(data: dict[str, Any]) -> None:
        data["booking"]["fairness"] = values

    return mutated(change)


def test_a_file_without_fairness_gets_the_defaults_and_keeps_its_document() -> None:
    config = validate_text(yaml.safe_dump(mutated(lambda _: None)), source=SOURCE, rules=RULES)
    assert config.booking.fairness is None
    assert "fairness" not in config_document(config)["booking"]


def test_the_window_and_the_hold_are_read_and_checked() -> None:
    text = yaml.safe_dump(_fairness(release_window_seconds=120, hold_minutes=15))
    config = validate_text(text, source=SOURCE, rules=RULES)
    assert config.booking.fairness is not None
    assert (
        config.booking.fairness.release_window_seconds,
        config.booking.fairness.hold_minutes,
    ) == (
        120,
        15,
    )
    problems = problems_of(_fairness(release_window_seconds=5, hold_minutes=0, lottery=True))
    assert set(problems) == {
        "booking.fairness.release_window_seconds",
        "booking.fairness.hold_minutes",
        "booking.fairness.lottery",
    }
    assert "greater than or equal to 10" in problems["booking.fairness.release_window_seconds"]


async def test_the_tenant_s_window_decides_when_tickets_stop(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    quick = await load_tenant(
        clean_db,
        cache,
        changes={
            "booking": {
                "days_ahead": 28,
                "cancel_cutoff_hours": 2,
                "slot_minutes": 10,
                "fairness": {"release_window_seconds": 60, "hold_minutes": 5},
            }
        },
    )
    assert fairness_of(quick).release_window_seconds == 60
    assert fairness_of(tenant).release_window_seconds == 300  # the default
    here = await make_facility(clean_db, cache, quick, code="Q-1", region_code="NOR-01-01")
    me = await citizen_token(clean_db, settings, quick)
    [member] = await people(clean_db, quick, 1, account_id=me.id)
    seeded = await released_session(
        clean_db, quick, here, release_at=utcnow() - dt.timedelta(seconds=90)
    )
    r = await client.post(
        f"/api/v1/{quick.code}/sessions/{seeded.session_id}/tickets",
        json={"beneficiary_id": str(member)},
        headers=me.headers,
    )
    assert r.status_code == 409
    assert r.json()["type"].endswith("release-window-closed")
