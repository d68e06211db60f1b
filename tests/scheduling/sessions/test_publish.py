"""Publishing sessions over the API: slots cut in the tenant's time zone, every refusal,
who may publish where, weekly series, and retries with an Idempotency-Key."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest

from tests.scheduling.conftest import REGION
from tests.scheduling.sessions.support import (
    TZ,
    Session,
    Slot,
    api,
    audit_actions,
    body,
    count,
    events,
    local_today,
    next_weekday,
    publish,
    soon,
    staff,
)
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.facilities import service as facilities
from vaxport.scheduling import availability
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


def _next(month: int, day: int) -> dt.date:
    """The next ``month``/``day`` at least two days ahead."""
    earliest = soon(2)
    candidate = dt.date(earliest.year, month, day)
    return candidate if candidate >= earliest else dt.date(earliest.year + 1, month, day)


def _spring_forward() -> dt.date:
    """The next day the demo country's clocks go forward (02:00 becomes 03:00)."""
    day = soon(2)
    for _ in range(366):
        noon = dt.datetime.combine(day, dt.time(12), tzinfo=TZ).utcoffset()
        night = dt.datetime.combine(day, dt.time(0), tzinfo=TZ).utcoffset()
        if noon is not None and night is not None and noon > night:
            return day
        day += dt.timedelta(days=1)
    raise AssertionError("no change of the clocks within a year")


@pytest.mark.parametrize(("month", "utc_start"), [(1, "14:00"), (7, "13:00")])
async def test_a_session_is_cut_into_slots_in_the_tenants_time_zone(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    month: int,
    utc_start: str,
) -> None:
    manager = await staff(client, clean_db, settings, tenant, facility_id=centre)
    day = _next(month, 15)
    token = await availability.current_token(cache, tenant.id)

    r = await client.post(
        api(tenant),
        json=body(centre, day=day.isoformat(), end_time="10:05", slot_minutes=20),
        headers=manager.headers,
    )

    assert r.status_code == 201, r.text
    out = r.json()
    assert r.headers["location"] == api(tenant, f"/{out['id']}")
    assert out["day"] == day.isoformat()
    assert (out["start_time"], out["end_time"]) == ("09:00", "10:05")
    starts = [dt.datetime.fromisoformat(s["starts_at"]) for s in out["slots"]]
    first = dt.datetime.combine(day, dt.time.fromisoformat(utc_start), tzinfo=dt.UTC)
    # Three whole 20-minute slots; the 5 minutes left make none.
    assert starts == [first + dt.timedelta(minutes=20 * i) for i in range(3)]
    assert [s["start_time"] for s in out["slots"]] == ["09:00", "09:20", "09:40"]
    assert [s["remaining"] for s in out["slots"]] == [2, 2, 2]
    assert (out["capacity"], out["booked"], out["remaining"]) == (6, 0, 6)
    assert out["status"] == "open"
    assert out["series_id"] is None
    assert await count(clean_db, tenant, Slot) == 3
    assert await events(clean_db, tenant, "session.") == [
        ("session.published", {"session_id": out["id"]})
    ]
    assert await audit_actions(clean_db, tenant, "session.") == ["session.publish"]
    assert await availability.current_token(cache, tenant.id) != token


async def test_slots_follow_real_time_across_a_change_of_the_clocks(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    manager = await staff(client, clean_db, settings, tenant, facility_id=centre)
    day = _spring_forward()
    if (day - local_today()).days > 366:  # pragma: no cover - always within a year
        pytest.skip("the next change of the clocks is too far ahead")

    skipped = await client.post(
        api(tenant),
        json=body(centre, day=day.isoformat(), start_time="02:30", end_time="04:00"),
        headers=manager.headers,
    )
    assert skipped.status_code == 422
    assert [e["field"] for e in skipped.json()["errors"]] == ["start_time"]

    # 01:00 to 04:00 on the wall is two hours of real time: twelve 10-minute slots.
    out = await publish(
        client,
        tenant,
        manager,
        body(centre, day=day.isoformat(), start_time="01:00", end_time="04:00"),
    )
    assert len(out["slots"]) == 12
    assert out["slots"][6]["start_time"] == "03:00"


def _refusals(centre: uuid.UUID) -> list[tuple[str, dict[str, Any], int, list[str]]]:
    today = local_today()
    far = today + dt.timedelta(days=400)
    return [
        ("day in the past", {"day": (today - dt.timedelta(days=1)).isoformat()}, 422, ["day"]),
        ("day too far ahead", {"day": far.isoformat()}, 422, ["day"]),
        ("day at the end of time", {"day": "9999-12-31", "end_time": "23:59"}, 422, ["day"]),
        ("day at the start of time", {"day": "0001-01-01", "start_time": "00:00"}, 422, ["day"]),
        ("end before start", {"start_time": "10:00", "end_time": "09:00"}, 422, ["end_time"]),
        ("end equals start", {"start_time": "09:00", "end_time": "09:00"}, 422, ["end_time"]),
        ("slot longer than session", {"slot_minutes": 90}, 422, ["slot_minutes"]),
        (
            "too many slots",
            {"start_time": "00:00", "end_time": "23:59", "slot_minutes": 1},
            422,
            ["slot_minutes"],
        ),
        ("unknown product", {"product_id": "smallpox"}, 422, ["product_id"]),
        ("product not offered here", {"product_id": "hpv"}, 422, ["product_id"]),
        (
            "dose the product lacks",
            {"product_id": "mmr", "dose_numbers": [3]},
            422,
            ["dose_numbers.0"],
        ),
        ("dose listed twice", {"dose_numbers": [1, 1]}, 422, ["dose_numbers.1"]),
        ("no dose", {"dose_numbers": []}, 422, ["dose_numbers"]),
        ("no seats", {"capacity_per_slot": 0}, 422, ["capacity_per_slot"]),
        ("too many seats", {"capacity_per_slot": 1001}, 422, ["capacity_per_slot"]),
        ("time not HH:MM", {"start_time": "9am"}, 422, ["start_time"]),
        (
            "ages upside down",
            {"eligibility": {"min_age": 60, "max_age": 18}},
            422,
            ["eligibility.max_age"],
        ),
        (
            "unknown group",
            {"eligibility": {"groups": ["astronauts"]}},
            422,
            ["eligibility.groups.0"],
        ),
        (
            "series ends before it starts",
            {"repeat": {"weekdays": ["mon"], "until": today.isoformat()}},
            422,
            ["repeat.until"],
        ),
        (
            "series too long",
            {
                "repeat": {
                    "weekdays": ["mon"],
                    "until": (today + dt.timedelta(days=120)).isoformat(),
                }
            },
            422,
            ["repeat.until"],
        ),
        (
            "series on no day",
            {
                "day": next_weekday(0, 3).isoformat(),
                "repeat": {"weekdays": ["sun"], "until": next_weekday(0, 3).isoformat()},
            },
            422,
            ["repeat.weekdays"],
        ),
        (
            "series with too many slots",
            {
                "start_time": "04:00",
                "end_time": "23:00",
                "slot_minutes": 5,
                "repeat": {
                    "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                    "until": (soon() + dt.timedelta(days=90)).isoformat(),
                },
            },
            422,
            ["repeat"],
        ),
        ("unknown field", {"seats": 3}, 422, ["seats"]),
        ("unknown centre", {"facility_id": str(uuid.uuid4())}, 404, []),
    ]


async def test_every_bad_request_is_refused_with_its_field_and_nothing_is_written(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    manager = await staff(client, clean_db, settings, tenant, role="national_admin")
    for name, change, status, fields in _refusals(centre):
        r = await client.post(api(tenant), json=body(centre, **change), headers=manager.headers)
        assert r.status_code == status, (name, r.text)
        assert r.headers["content-type"].startswith("application/problem+json"), name
        problem = r.json()
        assert [e["field"] for e in problem.get("errors", [])] == fields, (name, problem)
        assert all(e["reason"] and e["code"] for e in problem.get("errors", [])), name
    assert await count(clean_db, tenant, Session) == 0
    assert await count(clean_db, tenant, Slot) == 0
    assert await events(clean_db, tenant, "session.") == []


async def test_several_problems_are_reported_together(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    manager = await staff(client, clean_db, settings, tenant, facility_id=centre)
    data = body(
        centre,
        product_id="mmr",
        dose_numbers=[1, 7],
        end_time="08:00",
        eligibility={"groups": ["nobody"]},
    )
    r = await client.post(api(tenant), json=data, headers=manager.headers)
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"dose_numbers.1", "eligibility.groups.0", "end_time"}


async def test_an_inactive_centre_takes_no_sessions(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    admin = await staff(client, clean_db, settings, tenant, role="national_admin")
    await facilities.deactivate(db=clean_db, cache=cache, tenant=tenant, facility_id=centre)
    r = await client.post(api(tenant), json=body(centre), headers=admin.headers)
    assert r.status_code == 404
    assert await count(clean_db, tenant, Session) == 0


async def test_who_may_publish_where(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    from tests.registration.conftest import citizen_token, make_facility

    other = await make_facility(clean_db, cache, tenant, code="HC-2", region_code="CEN-01-01")
    cases = [
        (await staff(client, clean_db, settings, tenant, facility_id=centre), 201),
        (await staff(client, clean_db, settings, tenant, facility_id=other), 404),
        (await staff(client, clean_db, settings, tenant, "region_admin", region_code="NOR"), 201),
        (await staff(client, clean_db, settings, tenant, "region_admin", region_code=REGION), 201),
        (await staff(client, clean_db, settings, tenant, "region_admin", region_code="CEN"), 404),
        (await staff(client, clean_db, settings, tenant, "national_admin"), 201),
        (await staff(client, clean_db, settings, tenant, "vaccinator", facility_id=centre), 403),
        (await staff(client, clean_db, settings, tenant, "analyst"), 403),
        (await citizen_token(clean_db, settings, tenant), 403),
    ]
    for n, (who, status) in enumerate(cases):
        day = soon(2 + n).isoformat()
        r = await client.post(api(tenant), json=body(centre, day=day), headers=who.headers)
        assert r.status_code == status, (n, r.text)
    assert await count(clean_db, tenant, Session) == 4


async def test_a_weekly_series_is_published_in_one_go_under_one_series_id(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    manager = await staff(client, clean_db, settings, tenant, facility_id=centre)
    monday = next_weekday(0)
    until = monday + dt.timedelta(days=13)
    out = await publish(
        client,
        tenant,
        manager,
        body(
            centre,
            day=monday.isoformat(),
            eligibility={"min_age": 12, "groups": ["adult-boosters"]},
            repeat={"weekdays": ["wed", "mon"], "until": until.isoformat()},
        ),
    )
    days = [dt.date.fromisoformat(s["day"]) for s in out["sessions"]]
    offsets = [0, 2, 7, 9]
    assert days == [monday + dt.timedelta(days=d) for d in offsets]
    assert out["id"] == out["sessions"][0]["id"]
    assert out["series_id"] is not None
    assert out["eligibility"] == {"min_age": 12, "groups": ["adult-boosters"]}
    assert (
        await count(clean_db, tenant, Session, Session.series_id == uuid.UUID(out["series_id"]))
        == 4
    )
    assert await count(clean_db, tenant, Slot) == 4 * 6
    assert len(await events(clean_db, tenant, "session.published")) == 4
    assert len(await audit_actions(clean_db, tenant, "session.publish")) == 4

    listed = await client.get(
        api(tenant), params={"from_day": monday.isoformat(), "limit": 3}, headers=manager.headers
    )
    page = listed.json()
    assert [i["day"] for i in page["items"]] == [d.isoformat() for d in days[:3]]
    rest = await client.get(
        api(tenant), params={"cursor": page["next_cursor"], "limit": 3}, headers=manager.headers
    )
    assert [i["day"] for i in rest.json()["items"]] == [days[3].isoformat()]
    assert rest.json()["next_cursor"] is None


async def test_a_retried_publish_with_its_idempotency_key_publishes_once(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    manager = await staff(client, clean_db, settings, tenant, facility_id=centre)
    headers = {**manager.headers, "Idempotency-Key": f"pub-{uuid.uuid4()}"}
    first = await client.post(api(tenant), json=body(centre), headers=headers)
    again = await client.post(api(tenant), json=body(centre), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers.get("idempotent-replayed") == "true"
    other = await client.post(api(tenant), json=body(centre, end_time="11:00"), headers=headers)
    assert other.status_code == 422
    assert await count(clean_db, tenant, Session) == 1


async def test_a_list_cursor_that_was_never_given_out_is_a_422(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    import base64

    manager = await staff(client, clean_db, settings, tenant, facility_id=centre)
    forged = [
        "nonsense",
        base64.urlsafe_b64encode(b'["2030-01-01", "2030-01-01T09:00:00", 5]').decode(),
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),
        base64.urlsafe_b64encode(b'["2030-01-01", "2030-01-01T09:00:00+00:00", 7]').decode(),
    ]
    for cursor in forged:
        r = await client.get(api(tenant), params={"cursor": cursor}, headers=manager.headers)
        assert r.status_code == 422, (cursor, r.text)
        assert [e["field"] for e in r.json()["errors"]] == ["cursor"]
    backwards = {"from_day": soon(5).isoformat(), "to_day": soon(1).isoformat()}
    r = await client.get(api(tenant), params=backwards, headers=manager.headers)
    assert r.status_code == 422
