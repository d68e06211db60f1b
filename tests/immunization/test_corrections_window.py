"""The recorder's correction window is the tenant's: ``immunization.correction_window_minutes``
(0 to 1440, default 60), validated at load and left out of the document when unset."""

from __future__ import annotations

import uuid

import httpx
import yaml

from tests.immunization.corrections_support import dose_url, recorded, slug
from tests.immunization.support import add_lot, person_at
from tests.registration.conftest import make_facility, staff_token
from tests.scheduling.conftest import REGION
from tests.support.parts import RULES
from tests.support.tenants import load_tenant
from tests.tenancy.helpers import demo_config
from tests.tenancy.test_config_validation import SOURCE, problems_of
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.loader import config_document, config_hash
from vaxport.tenancy.validation import validate_text


def test_the_window_is_validated_and_absent_keeps_the_configurations_hash() -> None:
    data = demo_config()
    config = validate_text(yaml.safe_dump(data), source=SOURCE, rules=RULES)
    assert config.immunization is not None
    assert config.immunization.correction_window == 60
    assert "correction_window_minutes" not in config_document(config)["immunization"]
    for bad in (-1, 1441, "an hour"):
        data["immunization"]["correction_window_minutes"] = bad
        assert "immunization.correction_window_minutes" in problems_of(data), bad
    data["immunization"]["correction_window_minutes"] = 15
    other = validate_text(yaml.safe_dump(data), source=SOURCE, rules=RULES)
    assert other.immunization is not None
    assert other.immunization.correction_window == 15
    assert config_hash(config_document(other)) != config_hash(config_document(config))


async def test_with_a_window_of_0_only_a_supervisor_corrects(
    client: httpx.AsyncClient, clean_db: Database, cache: Cache, settings: Settings
) -> None:
    immunization = demo_config()["immunization"] | {"correction_window_minutes": 0}
    tenant = await load_tenant(clean_db, cache, changes={"immunization": immunization})
    centre = await make_facility(clean_db, cache, tenant, code="HC-0", region_code=REGION)
    await add_lot(clean_db, tenant, "covid-mrna", "EX1234")
    vaccinator = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=centre
    )
    manager = await staff_token(
        client, clean_db, settings, tenant, "facility_manager", facility_id=centre
    )
    person = await person_at(clean_db, tenant, centre)
    dose = await recorded(client, tenant, vaccinator, person)
    change = {"version": 1, "site": "right-arm", "reason": "the right arm in fact"}

    mine = await client.patch(dose_url(tenant, dose["id"]), json=change, headers=vaccinator.headers)
    theirs = await client.patch(dose_url(tenant, dose["id"]), json=change, headers=manager.headers)

    assert (mine.status_code, slug(mine)) == (403, "correction-window-passed")
    assert "0 minutes" in mine.json()["detail"]
    assert theirs.status_code == 200, theirs.text
    assert isinstance(uuid.UUID(theirs.json()["id"]), uuid.UUID)
