"""The day at a centre in the browser: the list, a code found, a person marked seen, a
session closed after its confirmation, all with forms and no script."""

from __future__ import annotations

import re
import uuid

import httpx

from tests.identity.helpers import make_staff
from tests.registration.review.review_support import add_citizen, web_session
from tests.scheduling.attendance.support import (
    audited,
    book,
    session_status,
    session_today,
    statuses,
)
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

HTML = {"accept": "text/html"}
CSRF = "t" * 40


async def _browser(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    role: str = "vaccinator",
    **scope: object,
) -> None:
    person = await make_staff(db, settings, tenant, role=role, **scope)
    client.cookies.set("vaxport_session", await web_session(db, settings, tenant, person.id))
    client.cookies.set("vaxport_csrf", CSRF)


async def test_a_vaccinator_sees_the_day_and_marks_a_person_seen_with_the_form(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    seeded = await session_today(clean_db, tenant, centre)
    ada = await book(clean_db, tenant, seeded.slot_ids[0], given_name="Ada")
    bea = await book(clean_db, tenant, seeded.slot_ids[1], given_name="Bea", dose=2)
    await _browser(client, clean_db, settings, tenant, facility_id=centre)
    url = f"/{tenant.code}/staff/today"

    r = await client.get(url, headers=HTML)

    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    page = r.text
    assert page.index("Ada Okafor") < page.index("Bea Okafor")
    assert ada.code in page
    assert bea.code in page
    assert 'aria-current="page"' in page
    assert f'href="{url}"' in page  # in the staff navigation
    action = f"{url}/appointments/{ada.appointment_id}/complete"
    assert f'action="{action}"' in page
    assert f"{url}/sessions/{seeded.session_id}/close" in page
    assert len(await audited(clean_db, tenant, "appointment.day_list")) == 2

    refused = await client.post(action, data={}, headers=HTML)
    assert refused.status_code == 403  # no CSRF token
    r = await client.post(action, data={"csrf_token": CSRF}, headers=HTML)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"{url}?done=completed"
    assert (await statuses(clean_db, tenant))[ada.appointment_id] == "completed"
    r = await client.get(r.headers["location"], headers=HTML)
    assert "Marked as seen." in r.text
    assert f'action="{action}"' not in r.text  # seen: no button left for Ada


async def test_a_booking_code_typed_at_the_desk_shows_the_booking(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    seeded = await session_today(clean_db, tenant, centre)
    ada = await book(clean_db, tenant, seeded.slot_ids[0], given_name="Ada", dose=2)
    await _browser(client, clean_db, settings, tenant, facility_id=centre)
    url = f"/{tenant.code}/staff/today"

    r = await client.get(url, params={"code": ada.code.lower()}, headers=HTML)

    assert r.status_code == 200, r.text
    assert f"Booking {ada.code}" in r.text
    assert len(await audited(clean_db, tenant, "appointment.by_code")) == 1
    r = await client.get(url, params={"code": "abc"}, headers=HTML)
    assert r.status_code == 422
    assert 'id="code-error"' in r.text
    assert 'aria-invalid="true"' in r.text
    r = await client.get(url, params={"code": "ZZZZZZZZ"}, headers=HTML)
    assert r.status_code == 404
    assert "Ada Okafor" in r.text  # the day is still listed under the message


async def test_closing_asks_first_with_the_count_then_marks_the_no_shows(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    seeded = await session_today(clean_db, tenant, centre)
    people = [await book(clean_db, tenant, seeded.slot_ids[0], given_name=n) for n in "ABC"]
    await _browser(client, clean_db, settings, tenant, "facility_manager", facility_id=centre)
    close = f"/{tenant.code}/staff/today/sessions/{seeded.session_id}/close"

    r = await client.get(close, headers=HTML)

    assert r.status_code == 200, r.text
    assert "3 people still expected will be marked as no-shows." in r.text
    assert f'action="{close}"' in r.text
    assert await session_status(clean_db, tenant, seeded.session_id) == "open"
    r = await client.post(close, data={"csrf_token": CSRF}, headers=HTML)
    assert r.status_code == 303, r.text
    assert r.headers["location"].endswith("?done=closed")
    assert set((await statuses(clean_db, tenant)).values()) == {"no_show"}
    assert len(people) == 3
    r = await client.get(r.headers["location"], headers=HTML)
    assert "Did not come" in r.text
    assert close not in r.text  # closed: no button to close it again
    r = await client.get(close, headers=HTML)
    assert "already closed" in r.text


async def test_staff_of_a_region_choose_the_centre_and_citizens_are_refused(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    seeded = await session_today(clean_db, tenant, centre)
    ada = await book(clean_db, tenant, seeded.slot_ids[0], given_name="Ada")
    await _browser(client, clean_db, settings, tenant, region_code="NOR-01")
    url = f"/{tenant.code}/staff/today"

    r = await client.get(url, headers=HTML)
    assert r.status_code == 200
    assert 'name="facility_id"' in r.text
    assert "HC-1" in r.text
    assert "Ada Okafor" not in r.text
    r = await client.get(url, params={"facility_id": "hc-1"}, headers=HTML)
    assert "Ada Okafor" in r.text
    action = f"{url}/appointments/{ada.appointment_id}/complete"
    r = await client.post(action, data={"csrf_token": CSRF, "centre": "HC-1"})
    assert r.status_code == 303
    assert r.headers["location"] == f"{url}?facility_id=HC-1&done=completed"
    r = await client.get(url, params={"facility_id": "NOPE-9"}, headers=HTML)
    assert r.status_code == 422
    assert re.search(r'id="facility_id-error"', r.text)

    citizen = await add_citizen(clean_db, tenant)
    client.cookies.set("vaxport_session", await web_session(clean_db, settings, tenant, citizen))
    assert (await client.get(url, headers=HTML)).status_code == 403
    r = await client.post(action, data={"csrf_token": CSRF})
    assert r.status_code == 403
