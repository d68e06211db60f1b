"""Correcting a dose record: the recorder in their window, a supervisor with a reason
after it, every correction checked again, its history kept, audited and announced."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import httpx
import pytest

from tests.identity.helpers import actor_for
from tests.immunization.corrections_support import (
    code,
    dose_url,
    recorded,
    recorded_long_ago,
    slug,
)
from tests.immunization.support import add_lot, audited, body, doses, events, person_at
from tests.registration.conftest import Person, staff_token
from tests.scheduling.booking.support import record_given
from vaxport.core.db import Database
from vaxport.core.errors import Conflict, error_code
from vaxport.immunization import service
from vaxport.immunization.corrections.schemas import DoseCorrection
from vaxport.immunization.schemas import DoseIn
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


@pytest.fixture
async def manager(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> Person:
    """The facility manager of ``centre``."""
    return await staff_token(
        client, clean_db, settings, tenant, "facility_manager", facility_id=centre
    )


async def test_the_recorder_corrects_lot_site_and_notes_within_the_window_and_the_old_row_is_kept(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    person = await person_at(clean_db, tenant, centre)
    other = await add_lot(clean_db, tenant, "covid-mrna", "EX9999")
    dose = await recorded(client, tenant, vaccinator, person, notes="first words")

    r = await client.patch(
        dose_url(tenant, dose["id"]),
        json={"version": 1, "lot_number": " ex9999", "site": "right-arm", "notes": "fixed"},
        headers=vaccinator.headers,
    )

    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["version"], out["lot_id"], out["lot_number"]) == (2, str(other), "EX9999")
    assert (out["site"], out["notes"], out["dose_number"]) == ("right-arm", "fixed", 1)
    [row] = await doses(clean_db, tenant)
    assert (row.version, row.lot_id, row.notes) == (2, other, "fixed")
    history = await client.get(
        dose_url(tenant, dose["id"]) + "/revisions", headers=vaccinator.headers
    )
    assert history.status_code == 200, history.text
    [revision] = history.json()["revisions"]
    assert (revision["version"], revision["action"]) == (1, "correct")
    assert (revision["before"]["lot_id"], revision["before"]["site"]) == (str(lot), "left-arm")
    assert revision["before_personal"] == {"notes": "first words", "override_reason": None}
    assert revision["changed_by"] == str(vaccinator.id)
    [entry] = await audited(clean_db, tenant, "dose.correct")
    assert entry.details["fields"] == ["lot_id", "notes", "site"]
    assert "first words" not in str(entry.details)
    assert "fixed" not in str(entry.details)
    [read] = await audited(clean_db, tenant, "dose.revisions.read")
    assert read.object_id == str(person)
    [event] = await events(clean_db, tenant, "dose.corrected")
    assert (event["dose_id"], event["version"]) == (dose["id"], 2)
    assert event["fields"] == ["lot_id", "notes", "site"]


async def test_asking_for_the_values_the_dose_has_changes_nothing(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    person = await person_at(clean_db, tenant, centre)
    dose = await recorded(client, tenant, vaccinator, person)

    r = await client.patch(
        dose_url(tenant, dose["id"]),
        json={"version": 1, "site": "left-arm", "route": "IM"},
        headers=vaccinator.headers,
    )

    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1
    assert await audited(clean_db, tenant, "dose.correct") == []
    assert await events(clean_db, tenant, "dose.corrected") == []


async def test_after_the_window_the_recorder_is_told_who_can_and_a_supervisor_corrects_with_reason(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    manager: Person,
    lot: uuid.UUID,
) -> None:
    person = await person_at(clean_db, tenant, centre)
    dose = await recorded(client, tenant, vaccinator, person)
    await recorded_long_ago(clean_db, tenant, dose["id"])
    url = dose_url(tenant, dose["id"])

    late = await client.patch(
        url, json={"version": 1, "site": "right-arm"}, headers=vaccinator.headers
    )
    no_reason = await client.patch(
        url, json={"version": 1, "site": "right-arm"}, headers=manager.headers
    )
    done = await client.patch(
        url,
        json={"version": 1, "site": "right-arm", "reason": "the card says right arm"},
        headers=manager.headers,
    )

    assert (late.status_code, slug(late)) == (403, "correction-window-passed")
    assert "facility manager" in late.json()["detail"]
    assert (no_reason.status_code, code(no_reason)) == (422, "reason-required")
    assert done.status_code == 200, done.text
    assert (done.json()["site"], done.json()["version"]) == ("right-arm", 2)
    [entry] = await audited(clean_db, tenant, "dose.correct")
    assert (entry.actor_id, entry.details["authority"]) == (manager.id, "supervisor")
    assert "card" not in str(entry.details)


async def test_another_vaccinator_of_the_centre_is_refused_and_a_centre_elsewhere_finds_no_dose(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    elsewhere: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    person = await person_at(clean_db, tenant, centre)
    dose = await recorded(client, tenant, vaccinator, person)
    colleague = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=centre
    )
    stranger = await staff_token(
        client, clean_db, settings, tenant, "facility_manager", facility_id=elsewhere
    )
    change = {"version": 1, "site": "right-arm", "reason": "it was the right arm"}

    by_colleague = await client.patch(
        dose_url(tenant, dose["id"]), json=change, headers=colleague.headers
    )
    by_stranger = await client.patch(
        dose_url(tenant, dose["id"]), json=change, headers=stranger.headers
    )
    unknown = await client.patch(
        dose_url(tenant, uuid.uuid4()), json=change, headers=vaccinator.headers
    )

    assert (by_colleague.status_code, slug(by_colleague)) == (403, "not-the-recorder")
    assert by_stranger.status_code == 404, by_stranger.text
    assert unknown.status_code == 404, unknown.text
    assert [d.version for d in await doses(clean_db, tenant)] == [1]


async def test_bad_requests_are_422_and_an_old_version_is_409_and_nothing_changes(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    person = await person_at(clean_db, tenant, centre)
    dose = await recorded(client, tenant, vaccinator, person)
    url = dose_url(tenant, dose["id"])
    cases = [
        ({"version": 1, "colour": "blue"}, 422, "colour"),
        ({"version": 1}, 422, "version"),
        ({"version": 1, "product_id": None}, 422, "product_id"),
        ({"version": 1, "lot_number": "EX1234", "lot_id": str(lot)}, 422, "lot_id"),
        ({"site": "right-arm"}, 422, "version"),
        ({"version": 1, "product_id": "yellow-fever-x"}, 422, "product_id"),
    ]
    for payload, status, field in cases:
        r = await client.patch(url, json=payload, headers=vaccinator.headers)
        assert r.status_code == status, (payload, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in {e["field"].split(".")[-1] for e in r.json()["errors"]}, (payload, r.text)

    old = await client.patch(
        url, json={"version": 7, "site": "right-arm"}, headers=vaccinator.headers
    )

    assert (old.status_code, code(old)) == (409, "stale-version")
    assert old.json()["current_version"] == 1
    [row] = await doses(clean_db, tenant)
    assert (row.version, row.site) == (1, "left-arm")


async def test_a_corrected_dose_meets_recordings_checks_again(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    person = await person_at(clean_db, tenant, centre)
    first = dt.date.today() - dt.timedelta(days=30)
    await record_given(clean_db, tenant, centre, person, product_id="covid-mrna", day=first)
    await add_lot(clean_db, tenant, "covid-mrna", "HOLD-1", on_hold=True)
    dose = await recorded(client, tenant, vaccinator, person)
    assert dose["dose_number"] == 2
    url = dose_url(tenant, dose["id"])
    too_soon = dt.datetime.combine(first + dt.timedelta(days=3), dt.time(10), tzinfo=dt.UTC)
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)

    held = await client.patch(
        url, json={"version": 1, "lot_number": "HOLD-1"}, headers=vaccinator.headers
    )
    ahead = await client.patch(
        url, json={"version": 1, "administered_at": future.isoformat()}, headers=vaccinator.headers
    )
    early = await client.patch(
        url,
        json={"version": 1, "administered_at": too_soon.isoformat()},
        headers=vaccinator.headers,
    )
    as_dose_1 = await client.patch(
        url, json={"version": 1, "dose_number": 1}, headers=vaccinator.headers
    )

    assert (held.status_code, slug(held)) == (409, "lot-on-hold")
    assert (ahead.status_code, slug(ahead)) == (422, "administered-in-future")
    assert (early.status_code, slug(early)) == (422, "too-early")
    assert early.json()["overridable"] is True
    assert (as_dose_1.status_code, slug(as_dose_1)) == (409, "dose-already-recorded")
    assert [d.version for d in await doses(clean_db, tenant)] == [1, 1]

    overridden = await client.patch(
        url,
        json={
            "version": 1,
            "administered_at": too_soon.isoformat(),
            "override": {"reason": "outbreak protocol"},
        },
        headers=vaccinator.headers,
    )

    assert overridden.status_code == 200, overridden.text
    out = overridden.json()
    assert (out["overridden"], out["override_reason"], out["day"]) == (
        True,
        "outbreak protocol",
        too_soon.date().isoformat(),
    )
    [entry] = await audited(clean_db, tenant, "dose.correct")
    assert entry.details["overridden"] is True
    assert set(entry.details["fields"]) >= {"administered_at", "day", "overridden"}


async def test_a_dose_2_whose_dose_1_was_voided_is_renumbered_as_dose_1(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    person = await person_at(clean_db, tenant, centre)
    first = dt.date.today() - dt.timedelta(days=30)
    earlier = await record_given(
        clean_db, tenant, centre, person, product_id="covid-mrna", day=first
    )
    dose = await recorded(client, tenant, vaccinator, person)
    await recorded_long_ago(clean_db, tenant, earlier)
    manager = await staff_token(
        client, clean_db, Settings(env="test"), tenant, "facility_manager", facility_id=centre
    )
    voided = await client.post(
        dose_url(tenant, earlier) + "/void",
        json={"version": 1, "reason": "another person's card"},
        headers=manager.headers,
    )
    assert voided.status_code == 200, voided.text

    stays = await client.patch(
        dose_url(tenant, dose["id"]),
        json={"version": 1, "dose_number": 2},
        headers=vaccinator.headers,
    )
    renumbered = await client.patch(
        dose_url(tenant, dose["id"]),
        json={"version": 1, "dose_number": 1},
        headers=vaccinator.headers,
    )

    assert (stays.status_code, slug(stays)) == (422, "dose-number-not-next")
    assert renumbered.status_code == 200, renumbered.text
    assert (renumbered.json()["dose_number"], renumbered.json()["version"]) == (1, 2)


async def test_two_corrections_of_one_version_at_once_make_one_change_and_one_409(
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    lot: uuid.UUID,
) -> None:
    person = await person_at(clean_db, tenant, centre)
    recorder = actor_for(tenant, "vaccinator", facility_id=centre)
    dose = await service.record_dose(
        db=clean_db, tenant=tenant, actor=recorder, body=DoseIn.model_validate(body(person))
    )

    results = await asyncio.gather(
        *(
            service.correct_dose(
                db=clean_db,
                tenant=tenant,
                actor=recorder,
                settings=settings,
                dose_id=dose.id,
                body=DoseCorrection.model_validate({"version": 1, "site": site}),
            )
            for site in ("right-arm", "left-thigh")
        ),
        return_exceptions=True,
    )

    won = [r for r in results if isinstance(r, service.DoseOut)]
    lost = [r for r in results if not isinstance(r, service.DoseOut)]
    assert len(won) == 1, results
    assert len(lost) == 1, results
    assert isinstance(lost[0], Conflict)
    assert error_code(lost[0].errors[0]) == "stale-version"
    [row] = await doses(clean_db, tenant)
    assert (row.version, row.site) == (2, won[0].site)
    assert len(await events(clean_db, tenant, "dose.corrected")) == 1
