"""Recording a dose costs at most four round trips to PostgreSQL, with or without an
Idempotency-Key: BEGIN with the tenant scope; one statement reading the person (and their
key), the centre's region, the lot and the history; one batch marking the person
vaccinated and writing the dose, its event, its audit entry and the kept answer; COMMIT.

Reporting an adverse event after a dose, by staff or by a citizen for their member, costs
the same four: BEGIN; one statement reading the dose and its person with their key; one
batch writing the report, its audit entry and the kept answer; COMMIT."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest

from tests.immunization.conftest import REGION
from tests.immunization.helpers import aefi_body, make_dose, register
from tests.immunization.support import body, doses, doses_url, vaccinated_at
from tests.registration.conftest import Person, citizen_token
from tests.scheduling.booking.support import add_people
from tests.support.roundtrips import RoundTrips
from vaxport.core.db import Database
from vaxport.immunization.aefi.models import AefiReport
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

T = TypeVar("T")


@pytest.fixture
def postgres(clean_db: Database) -> Database:
    if not clean_db.is_postgres:
        pytest.skip("round trips to a database server (PostgreSQL)")
    return clean_db


async def _created(
    client: httpx.AsyncClient, url: str, json: dict[str, Any], who: Person, *, with_key: bool
) -> dict[str, Any]:
    """The answer of a POST that must create (201), with a new Idempotency-Key or none."""
    headers = dict(who.headers)
    if with_key:
        headers["Idempotency-Key"] = str(uuid.uuid4())
    answer = await client.post(url, json=json, headers=headers)
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


async def _measured(db: Database, act: Callable[[], Awaitable[T]]) -> tuple[RoundTrips, T]:
    """``act`` once (the tenant's keys and the caller's state cached), then counted on warm
    connections: the meter and what its last run gave."""
    await act()
    meter = RoundTrips(db)
    for attempt in meter.attempts():
        with attempt:
            last = await act()
    return meter, last


@pytest.mark.parametrize("with_key", [False, True], ids=["plain", "idempotency-key"])
async def test_recording_a_dose_takes_at_most_four_round_trips(
    client: httpx.AsyncClient,
    postgres: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
    with_key: bool,
) -> None:
    people = iter(await add_people(postgres, tenant, 42, facility_id=centre))

    async def record() -> uuid.UUID:
        person = next(people)
        await _created(client, doses_url(tenant), body(person), vaccinator, with_key=with_key)
        return person

    meter, person = await _measured(postgres, record)
    assert meter.fewest <= 4, meter.shown
    assert await vaccinated_at(postgres, tenant, person) is not None
    assert person in {d.beneficiary_id for d in await doses(postgres, tenant)}


@pytest.mark.parametrize(
    ("reporter", "with_key"),
    [("staff", False), ("staff", True), ("citizen", True)],
    ids=["staff", "staff-idempotency-key", "citizen-idempotency-key"],
)
async def test_reporting_an_adverse_event_takes_at_most_four_round_trips(
    client: httpx.AsyncClient,
    postgres: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
    reporter: str,
    with_key: bool,
) -> None:
    citizen = await citizen_token(postgres, settings, tenant)
    member = await register(client, tenant, citizen.headers, region_code=REGION)
    dose = await make_dose(
        postgres, tenant, beneficiary_id=member, lot_id=lot, region_code=REGION, facility_id=centre
    )
    url, who = f"/api/v1/{tenant.code}/aefi", vaccinator
    if reporter == "citizen":
        url, who = f"/api/v1/{tenant.code}/beneficiaries/{member}/aefi", citizen

    async def report() -> uuid.UUID:
        made = await _created(client, url, aefi_body(dose), who, with_key=with_key)
        return uuid.UUID(made["id"])

    meter, made = await _measured(postgres, report)
    assert meter.fewest <= 4, meter.shown
    async with postgres.read(tenant_id=tenant.id) as session:
        stored = await session.get(AefiReport, made)
        assert stored is not None
        assert (stored.beneficiary_id, stored.dose_id, stored.lot_id) == (member, dose, lot)
        assert stored.narrative == "Fever 38.5 the evening after the dose"
