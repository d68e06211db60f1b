"""Today's list at a centre: who is expected when, read by the centre's staff only."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx

from tests.registration.conftest import Person, citizen_token, staff_token
from tests.scheduling.attendance.support import audited, book, cancel, session_today, today
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


def _day(tenant: TenantInfo, facility_id: uuid.UUID) -> str:
    return f"/api/v1/{tenant.code}/facilities/{facility_id}/appointments"


async def test_a_vaccinator_sees_todays_people_in_time_order_with_name_code_dose_and_product(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    elsewhere: uuid.UUID,
    vaccinator: Person,
) -> None:
    seeded = await session_today(clean_db, tenant, centre)
    later, early = seeded.slot_ids[1], seeded.slot_ids[0]
    bea = await book(clean_db, tenant, later, given_name="Bea", dose=2)
    ada = await book(clean_db, tenant, early, given_name="Ada")
    gone = await book(clean_db, tenant, early, given_name="Gone")
    await cancel(clean_db, tenant, gone.appointment_id)
    tomorrow = await session_today(
        clean_db, tenant, centre, day=today(tenant) + dt.timedelta(days=1)
    )
    await book(clean_db, tenant, tomorrow.slot_ids[0], given_name="Tom")
    other = await session_today(clean_db, tenant, elsewhere, region_code="CEN-01-01")
    await book(clean_db, tenant, other.slot_ids[0], given_name="Ola", region_code="CEN-01-01")

    r = await client.get(_day(tenant, centre), headers=vaccinator.headers)

    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["day"] == today(tenant).isoformat()
    assert [i["given_name"] for i in body["items"]] == ["Ada", "Bea"]
    first, second = body["items"]
    assert first["booking_code"] == ada.code
    assert first["family_name"] == "Okafor"
    assert (first["dose_number"], first["product_id"], first["status"]) == (
        1,
        "covid-mrna",
        "booked",
    )
    assert second["dose_number"] == 2
    assert first["starts_at"] < second["starts_at"]
    assert {first["session_id"], second["session_id"]} == {str(seeded.session_id)}
    [session] = body["sessions"]
    assert session["id"] == str(seeded.session_id)
    assert (session["booked"], session["completed"], session["no_show"]) == (2, 0, 0)
    assert body["next_cursor"] is None
    assert bea.person_id != ada.person_id


async def test_another_day_is_asked_for_by_date_and_pages_follow_the_cursor(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
) -> None:
    day = today(tenant) + dt.timedelta(days=2)
    seeded = await session_today(clean_db, tenant, centre, day=day, slots=3)
    for n, name in enumerate(("Ann", "Ben", "Cy")):
        await book(clean_db, tenant, seeded.slot_ids[n], given_name=name)

    seen: list[str] = []
    params: dict[str, str] = {"day": day.isoformat(), "limit": "2"}
    for _ in range(3):
        r = await client.get(_day(tenant, centre), params=params, headers=vaccinator.headers)
        assert r.status_code == 200, r.text
        seen += [i["given_name"] for i in r.json()["items"]]
        if not r.json()["next_cursor"]:
            break
        params["cursor"] = r.json()["next_cursor"]
    assert seen == ["Ann", "Ben", "Cy"]

    r = await client.get(_day(tenant, centre), headers=vaccinator.headers)
    assert r.json()["items"] == []  # nobody today


async def test_staff_of_another_centre_get_404_and_citizens_and_analysts_403(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    elsewhere: uuid.UUID,
) -> None:
    seeded = await session_today(clean_db, tenant, centre)
    await book(clean_db, tenant, seeded.slot_ids[0], given_name="Ada")
    url = _day(tenant, centre)

    async def status(role: str, **scope: object) -> int:
        who = await staff_token(client, clean_db, settings, tenant, role, **scope)
        return (await client.get(url, headers=who.headers)).status_code

    assert await status("vaccinator", facility_id=elsewhere) == 404
    assert await status("facility_manager", facility_id=elsewhere) == 404
    assert await status("vaccinator", region_code="CEN") == 404
    assert await status("analyst", region_code="NOR") == 403
    assert await status("facility_manager", facility_id=centre) == 200
    assert await status("vaccinator", region_code="NOR-01") == 200  # the centre's region
    citizen = await citizen_token(clean_db, settings, tenant)
    r = await client.get(url, headers=citizen.headers)
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (
        await client.get(_day(tenant, uuid.uuid4()), headers=citizen.headers)
    ).status_code == 403


async def test_every_person_listed_is_audited_as_a_staff_read(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    centre: uuid.UUID,
    vaccinator: Person,
) -> None:
    seeded = await session_today(clean_db, tenant, centre)
    people = [
        (await book(clean_db, tenant, seeded.slot_ids[0], given_name=n)).person_id
        for n in ("Ada", "Bea")
    ]

    r = await client.get(_day(tenant, centre), headers=vaccinator.headers)
    assert r.status_code == 200

    entries = await audited(clean_db, tenant, "appointment.day_list")
    assert sorted(e.object_id for e in entries) == sorted(str(p) for p in people)
    assert {e.object_type for e in entries} == {"beneficiary"}
    assert {e.actor_id for e in entries} == {vaccinator.id}
    assert {e.request_id for e in entries} == {r.headers["x-request-id"]}


async def test_bad_days_cursors_and_limits_are_422_problems(
    client: httpx.AsyncClient, tenant: TenantInfo, centre: uuid.UUID, vaccinator: Person
) -> None:
    url = _day(tenant, centre)
    for params, field in (
        ({"day": "2024-02-30"}, "day"),
        ({"cursor": "not-a-cursor!"}, "cursor"),
        ({"cursor": "AAAA"}, "cursor"),
        ({"cursor": "f" * 32}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"colour": "red"}, "colour"),
    ):
        r = await client.get(url, params=params, headers=vaccinator.headers)
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert any(field in e["field"] for e in r.json()["errors"]), r.json()
    r = await client.get(
        _day(tenant, centre).replace(str(centre), "nope"), headers=vaccinator.headers
    )
    assert r.status_code == 422
