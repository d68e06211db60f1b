"""An offline batch's doses are read and written together (one statement, one batch per
chunk of 50): what the fast way leaves to the one-by-one way is answered as before, two
devices sending the same record at once write it once, and the round trips are few."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.immunization.support import audited, doses, events, vaccinated_at
from tests.immunization.sync_support import dose, upload
from tests.registration.conftest import Person
from tests.scheduling.booking.support import add_people
from tests.support.roundtrips import RoundTrips
from vaxport.core.db import Database
from vaxport.tenancy.schemas import TenantInfo


async def test_a_batch_of_doses_for_many_people_is_written_with_its_events_and_audit(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    people = await add_people(clean_db, tenant, 60, facility_id=centre)

    out = await upload(client, tenant, vaccinator.headers, [dose(person=p) for p in people])

    assert out["counts"] == {"accepted": 60, "duplicate": 0, "conflict": 0, "rejected": 0}
    assert [r["beneficiary_id"] for r in out["results"]] == [str(p) for p in people]
    assert {d.beneficiary_id for d in await doses(clean_db, tenant)} == set(people)
    assert len(await events(clean_db, tenant, "dose.recorded")) == 60
    assert len(await audited(clean_db, tenant, "dose.record")) == 60
    assert all([await vaccinated_at(clean_db, tenant, p) for p in people])


async def test_the_same_person_twice_in_a_batch_gets_the_first_dose_and_the_second_to_review(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    person, other = await add_people(clean_db, tenant, 2, facility_id=centre)
    first, second = dose(person=person, dose_number=1), dose(person=person, dose_number=1)

    out = await upload(client, tenant, vaccinator.headers, [first, dose(person=other), second])

    assert [r["outcome"] for r in out["results"]] == ["accepted", "accepted", "conflict"]
    assert out["results"][2]["existing_id"] == first["client_id"]
    assert len(await doses(clean_db, tenant)) == 2


async def test_two_devices_sending_the_same_records_at_once_write_each_dose_once(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    people = await add_people(clean_db, tenant, 5, facility_id=centre)
    for attempt in range(3):  # the same outcome however the two interleave
        shared = [dose(person=people[attempt])]
        own = [[dose(person=people[3])], [dose(person=people[4])]] if attempt == 0 else [[], []]

        a, b = await asyncio.gather(
            upload(client, tenant, vaccinator.headers, shared + own[0], device="tablet-a"),
            upload(client, tenant, vaccinator.headers, shared + own[1], device="tablet-b"),
        )

        outcomes = sorted([a["results"][0]["outcome"], b["results"][0]["outcome"]])
        assert outcomes == ["accepted", "duplicate"], (a["results"][0], b["results"][0])
        assert a["results"][0]["id"] == b["results"][0]["id"] == shared[0]["client_id"]
    rows = await doses(clean_db, tenant)
    assert sorted(str(d.beneficiary_id) for d in rows) == sorted(str(p) for p in people)
    assert len(await events(clean_db, tenant, "dose.recorded")) == 5


@pytest.fixture
def postgres(clean_db: Database) -> Database:
    if not clean_db.is_postgres:
        pytest.skip("round trips to a database server (PostgreSQL)")
    return clean_db


async def test_fifty_doses_of_a_batch_take_the_round_trips_of_a_few(
    client: httpx.AsyncClient,
    postgres: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    people = await add_people(postgres, tenant, 50 * 30, facility_id=centre)
    # The batch's text is larger than asyncpg's default statement cache allows (see
    # core.db): it is prepared once a connection too.
    meter = RoundTrips(postgres, tries=30)
    for n, attempt in enumerate(meter.attempts()):
        batch = [dose(person=p) for p in people[50 * n : 50 * (n + 1)]]
        with attempt:
            out = await upload(client, tenant, vaccinator.headers, batch)
        assert out["counts"]["accepted"] == 50
    # The known UUIDs (3 reads), the chunk (BEGIN, its read, SAVEPOINT, its batch,
    # RELEASE, COMMIT), the upload's audit entry: where each dose took five or more.
    assert meter.fewest <= 16, meter.shown
