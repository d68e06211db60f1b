"""Voiding a dose record: the number freed, the reminder it scheduled withdrawn and the
due one restored, scheduling no longer counting it; and the two-person void of a dose
that has a certificate (the certificates context answers through immunization's port,
faked here through the wiring hook)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tests.immunization.corrections_support import code, dose_url, recorded, slug
from tests.immunization.support import (
    audited,
    doses,
    doses_url,
    events,
    history_url,
    person_at,
    vaccinated_at,
)
from tests.registration.conftest import Person, staff_token
from tests.scheduling.messages.support import person as person_with_phone
from tests.support.parts import PARTS
from vaxport import wiring
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.outbox import Worker
from vaxport.notifications.models import Message
from vaxport.registration.models import Beneficiary
from vaxport.scheduling.doses_port import doses_of
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
    return await staff_token(
        client, clean_db, settings, tenant, "facility_manager", facility_id=centre
    )


@pytest.fixture
def certified() -> Iterator[set[uuid.UUID]]:
    """The doses the certificates context says have a certificate (the port, installed)."""
    issued: set[uuid.UUID] = set()

    async def certificate_exists(
        _s: AsyncSession, _tenant: uuid.UUID, _person: uuid.UUID, dose: uuid.UUID
    ) -> bool:
        return dose in issued

    wiring.install(dataclasses.replace(PARTS, certificate_exists=certificate_exists))
    try:
        yield issued
    finally:
        wiring.install(PARTS)


async def _work(db: Database, cache: Cache, settings: Settings) -> None:
    worker = Worker(
        db, cache, settings, subscriptions=wiring.event_subscriptions(), worker_id="voids-test"
    )
    for _ in range(3):
        if not await worker.run(asyncio.Event(), once=True):
            break


async def _reminders(db: Database, tenant: TenantInfo) -> list[tuple[str, str]]:
    async with db.read(tenant_id=tenant.id) as s:
        rows = await s.execute(
            select(Message.reason_id, Message.status)
            .where(Message.tenant_id == tenant.id, Message.reason_type == "dose")
            .order_by(Message.id)
        )
        return [(str(a), str(b)) for a, b in rows.all()]


@pytest.fixture
async def reachable(clean_db: Database, tenant: TenantInfo, centre: uuid.UUID) -> uuid.UUID:
    """A person with a phone (so reminders are queued), registered at ``centre``."""
    person = await person_with_phone(clean_db, tenant, phone="+14165550111")
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        await uow.session.execute(
            update(Beneficiary).where(Beneficiary.id == person).values(facility_id=centre)
        )
    return person


async def test_a_void_frees_the_number_withdraws_the_reminder_and_dose_1_is_due_again(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
    reachable: uuid.UUID,
) -> None:
    dose = await recorded(client, tenant, vaccinator, reachable)
    await _work(clean_db, cache, settings)
    assert [s for _, s in await _reminders(clean_db, tenant)] == ["queued"]  # dose 2's

    r = await client.post(
        dose_url(tenant, dose["id"]) + "/void",
        json={"version": 1, "reason": "recorded for the wrong person"},
        headers=vaccinator.headers,
    )

    assert r.status_code == 200, r.text
    assert (r.json()["outcome"], r.json()["dose"]["status"]) == ("voided", "voided")
    assert r.json()["dose"]["version"] == 2
    assert [s for _, s in await _reminders(clean_db, tenant)] == ["cancelled"]
    [row] = await doses(clean_db, tenant)
    assert (row.status, row.voided_by, row.void_reason) == (
        "voided",
        vaccinator.id,
        "recorded for the wrong person",
    )
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        assert await doses_of(uow, tenant.id, reachable) == ()
    history = (await client.get(history_url(tenant, reachable), headers=vaccinator.headers)).json()
    [series] = [x for x in history["series"] if x["series"] == "covid-19"]
    assert (series["doses_given"], series["next_dose_number"]) == (0, 1)
    # A person once recorded stays marked (the voided record is kept): see the docs.
    assert await vaccinated_at(clean_db, tenant, reachable) is not None
    [entry] = await audited(clean_db, tenant, "dose.void")
    assert "wrong person" not in str(entry.details)
    [event] = await events(clean_db, tenant, "dose.voided")
    assert (event["dose_id"], event["dose_number"], event["version"]) == (dose["id"], 1, 2)
    await _work(clean_db, cache, settings)  # the subscriber's resync queues nothing more
    assert [s for _, s in await _reminders(clean_db, tenant)] == ["cancelled"]

    again = await client.post(
        doses_url(tenant),
        json={
            "beneficiary_id": str(reachable),
            "product_id": "covid-mrna",
            "lot_number": "EX1234",
        },
        headers=vaccinator.headers,
    )
    assert again.status_code == 201, again.text
    assert again.json()["dose_number"] == 1


async def test_voiding_dose_2_restores_the_reminder_of_dose_2(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
    reachable: uuid.UUID,
) -> None:
    # Dose 2 early (on purpose) so that no reminder is due yet when the worker runs.
    days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    await recorded(client, tenant, vaccinator, reachable, administered_at=days_ago.isoformat())
    await _work(clean_db, cache, settings)
    second = await recorded(
        client, tenant, vaccinator, reachable, override={"reason": "travel before day 21"}
    )
    await _work(clean_db, cache, settings)
    before = await _reminders(clean_db, tenant)
    assert [(r.rsplit(":", 1)[1], s) for r, s in before] == [("2", "cancelled"), ("3", "queued")]

    r = await client.post(
        dose_url(tenant, second["id"]) + "/void",
        json={"version": 1, "reason": "the vial was not given"},
        headers=vaccinator.headers,
    )

    assert r.status_code == 200, r.text
    after = [(x.rsplit(":", 1)[1], s) for x, s in await _reminders(clean_db, tenant)]
    assert after == [("2", "cancelled"), ("3", "cancelled"), ("2", "queued")]


async def test_a_void_is_refused_without_a_reason_on_an_old_version_and_twice(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    person = await person_at(clean_db, tenant, centre)
    dose = await recorded(client, tenant, vaccinator, person)
    url = dose_url(tenant, dose["id"]) + "/void"

    no_reason = await client.post(url, json={"version": 1}, headers=vaccinator.headers)
    old = await client.post(url, json={"version": 3, "reason": "typo"}, headers=vaccinator.headers)
    done = await client.post(url, json={"version": 1, "reason": "typo"}, headers=vaccinator.headers)
    twice = await client.post(
        url, json={"version": 2, "reason": "typo"}, headers=vaccinator.headers
    )
    corrected = await client.patch(
        dose_url(tenant, dose["id"]),
        json={"version": 2, "site": "nose"},
        headers=vaccinator.headers,
    )

    assert no_reason.status_code == 422, no_reason.text
    assert (old.status_code, code(old)) == (409, "stale-version")
    assert done.status_code == 200, done.text
    assert (twice.status_code, slug(twice)) == (409, "dose-voided")
    assert (corrected.status_code, slug(corrected)) == (409, "dose-voided")


async def test_a_dose_with_a_certificate_is_voided_by_two_people_never_one(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    manager: Person,
    lot: uuid.UUID,
    certified: set[uuid.UUID],
) -> None:
    person = await person_at(clean_db, tenant, centre)
    dose = await recorded(client, tenant, vaccinator, person)
    certified.add(uuid.UUID(dose["id"]))
    url = dose_url(tenant, dose["id"])
    other = await staff_token(
        client, clean_db, settings, tenant, "facility_manager", facility_id=centre
    )

    asked = await client.post(
        url + "/void",
        json={"version": 1, "reason": "not given: vial broke"},
        headers=manager.headers,
    )

    assert asked.status_code == 202, asked.text
    request = asked.json()["request"]
    assert (asked.json()["outcome"], asked.json()["dose"]["status"]) == (
        "approval-required",
        "recorded",
    )
    assert (request["status"], request["requested_by"]) == ("pending", str(manager.id))
    approve = f"{url}/void-requests/{request['id']}/approve"
    again = await client.post(
        url + "/void", json={"version": 1, "reason": "same again"}, headers=vaccinator.headers
    )
    by_asker = await client.post(approve, headers=manager.headers)
    by_vaccinator = await client.post(approve, headers=vaccinator.headers)
    assert (again.status_code, code(again)) == (409, "void-requested")
    assert (by_asker.status_code, slug(by_asker)) == (403, "approver-is-requester")
    assert by_vaccinator.status_code == 403, by_vaccinator.text  # no doses:void-approve
    assert [d.status for d in await doses(clean_db, tenant)] == ["recorded"]

    approved = await client.post(approve, headers=other.headers)

    assert approved.status_code == 200, approved.text
    out = approved.json()
    assert (out["outcome"], out["dose"]["status"], out["request"]["status"]) == (
        "voided",
        "voided",
        "approved",
    )
    assert out["request"]["approved_by"] == str(other.id)
    [row] = await doses(clean_db, tenant)
    assert (row.voided_by, row.void_reason) == (manager.id, "not given: vial broke")
    revisions = (await client.get(url + "/revisions", headers=other.headers)).json()
    [revision] = revisions["revisions"]
    assert (revision["action"], revision["changed_by"], revision["approved_by"]) == (
        "void",
        str(manager.id),
        str(other.id),
    )
    assert [e.actor_id for e in await audited(clean_db, tenant, "dose.void.request")] == [
        manager.id
    ]
    [void] = await audited(clean_db, tenant, "dose.void")
    assert (void.actor_id, void.details["requested_by"]) == (other.id, str(manager.id))
    assert len(await audited(clean_db, tenant, "dose.void.approve")) == 1
    assert len(await events(clean_db, tenant, "dose.voided")) == 1
    closed = await client.post(approve, headers=other.headers)
    assert (closed.status_code, slug(closed)) == (409, "void-request-closed")


async def test_a_request_on_a_dose_changed_since_is_stale_and_a_new_one_supersedes_it(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
    manager: Person,
    lot: uuid.UUID,
    certified: set[uuid.UUID],
) -> None:
    person = await person_at(clean_db, tenant, centre)
    dose = await recorded(client, tenant, vaccinator, person)
    certified.add(uuid.UUID(dose["id"]))
    url = dose_url(tenant, dose["id"])
    asked = await client.post(
        url + "/void", json={"version": 1, "reason": "never given"}, headers=vaccinator.headers
    )
    first = asked.json()["request"]["id"]
    fixed = await client.patch(url, json={"version": 1, "site": "nose"}, headers=vaccinator.headers)
    assert fixed.status_code == 200, fixed.text

    stale = await client.post(f"{url}/void-requests/{first}/approve", headers=manager.headers)
    renewed = await client.post(
        url + "/void", json={"version": 2, "reason": "never given"}, headers=vaccinator.headers
    )
    superseded = await client.post(f"{url}/void-requests/{first}/approve", headers=manager.headers)
    approved = await client.post(
        f"{url}/void-requests/{renewed.json()['request']['id']}/approve", headers=manager.headers
    )

    assert (stale.status_code, code(stale)) == (409, "stale-version")
    assert renewed.status_code == 202, renewed.text
    assert (superseded.status_code, code(superseded)) == (409, "void-request-closed")
    assert approved.status_code == 200, approved.text
    unknown = await client.post(
        f"{url}/void-requests/{uuid.uuid4()}/approve", headers=manager.headers
    )
    assert unknown.status_code == 404


async def test_revisions_are_staff_reads_in_reach(
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
    stranger = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=elsewhere
    )

    mine = await client.get(dose_url(tenant, dose["id"]) + "/revisions", headers=vaccinator.headers)
    theirs = await client.get(dose_url(tenant, dose["id"]) + "/revisions", headers=stranger.headers)

    assert mine.status_code == 200, mine.text
    assert (mine.json()["version"], mine.json()["revisions"]) == (1, [])
    assert theirs.status_code == 404
