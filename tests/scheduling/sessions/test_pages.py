"""The staff session pages over HTTP: a manager's sessions by day, publishing with the
form (errors in the summary, nothing written), cancelling after a confirmation."""

from __future__ import annotations

import datetime as dt
import html
import re
import uuid
from typing import Any

import httpx

from tests.identity.helpers import make_staff
from tests.registration.review.review_support import web_session
from tests.scheduling.sessions.support import (
    Appointment,
    Session,
    body,
    count,
    publish,
    soon,
    staff,
)
from vaxport.core.db import Database
from vaxport.scheduling.appointments import Seat, book_in
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

HTML = {"accept": "text/html"}
CSRF = "s" * 40


async def _browser(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    role: str,
    **scope: Any,
) -> None:
    person = await make_staff(db, settings, tenant, role=role, **scope)
    client.cookies.set("vaxport_session", await web_session(db, settings, tenant, person.id))
    client.cookies.set("vaxport_csrf", CSRF)


def _form(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "csrf_token": CSRF,
        "product_id": "covid-mrna",
        "dose_numbers": ["1", "2"],
        "day": soon(4).isoformat(),
        "start_time": "09:00",
        "end_time": "10:00",
        "slot_minutes": "15",
        "capacity_per_slot": "3",
    }
    data.update(changes)
    return data


async def test_a_manager_publishes_sees_and_cancels_sessions_with_the_pages(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    await _browser(client, clean_db, settings, tenant, "facility_manager", facility_id=centre)
    base = f"/{tenant.code}/staff/sessions"

    empty = await client.get(base + "?lang=en", headers=HTML)
    assert empty.status_code == 200
    assert "No sessions to come." in empty.text
    assert 'href="/' + tenant.code + '/staff/sessions" aria-current="page"' in empty.text
    form = await client.get(base + "/new?lang=en", headers=HTML)
    assert form.status_code == 200
    assert 'name="facility_id"' not in form.text  # a manager publishes at their centre
    assert 'value="covid-mrna"' in form.text
    assert 'value="hpv"' not in form.text  # not offered at this centre

    weekly = _form(
        repeat_weekdays=["mon", "thu"],
        repeat_until=(soon(4) + dt.timedelta(days=13)).isoformat(),
        min_age="18",
    )
    done = await client.post(base + "/new", data=weekly, headers=HTML)
    assert done.status_code == 303, done.text
    listed = await client.get(done.headers["location"] + "&lang=en", headers=HTML)
    text = html.unescape(listed.text)
    published = await count(clean_db, tenant, Session)
    assert published >= 3
    assert f"{published} sessions published." in text
    assert text.count("09:00\u201310:00") == published
    assert "0 of 12" in text

    [session_id] = re.findall(r"/staff/sessions/([0-9a-f-]{36})/cancel", listed.text)[:1]
    slot_id = await _first_slot(clean_db, tenant, uuid.UUID(session_id))
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        seat = Seat(uuid.uuid4(), None, "covid-19", 1, None)
        assert await book_in(uow, tenant.id, slot_id, seat) is not None

    confirm = await client.get(f"{base}/{session_id}/cancel?lang=en", headers=HTML)
    assert confirm.status_code == 200
    assert "1 person booked in it will be told and offered to book again." in html.unescape(
        confirm.text
    )
    cancelled = await client.post(
        f"{base}/{session_id}/cancel", data={"csrf_token": CSRF}, headers=HTML
    )
    assert cancelled.status_code == 303
    after = await client.get(cancelled.headers["location"] + "&lang=en", headers=HTML)
    assert "1 person is told and offered to book again." in html.unescape(after.text)
    assert await count(clean_db, tenant, Appointment, Appointment.status == "released") == 1
    assert await count(clean_db, tenant, Session, Session.status == "cancelled") == 1


async def _first_slot(db: Database, tenant: TenantInfo, session_id: uuid.UUID) -> uuid.UUID:
    from sqlalchemy import select

    from vaxport.scheduling.models import Slot

    async with db.read(tenant_id=tenant.id) as s:
        found = await s.scalar(
            select(Slot.id).where(Slot.session_id == session_id).order_by(Slot.starts_at)
        )
    assert found is not None
    return found


async def test_a_form_with_problems_comes_back_with_them_and_writes_nothing(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    await _browser(client, clean_db, settings, tenant, "facility_manager", facility_id=centre)
    bad = _form(
        day=(soon(0) - dt.timedelta(days=2)).isoformat(),
        end_time="08:00",
        dose_numbers=[],
        capacity_per_slot="many",
        repeat_weekdays=["mon"],
    )
    r = await client.post(f"/{tenant.code}/staff/sessions/new?lang=en", data=bad, headers=HTML)
    assert r.status_code == 422
    text = html.unescape(r.text)
    assert 'class="error-summary"' in text
    for anchor in ("#dose_numbers", "#capacity_per_slot", "#repeat_until"):
        assert f'href="{anchor}"' in text, anchor
    assert 'value="08:00"' in text  # what was typed stays
    assert await count(clean_db, tenant, Session) == 0

    later = _form(day=(soon(0) - dt.timedelta(days=2)).isoformat(), end_time="08:00")
    r = await client.post(f"/{tenant.code}/staff/sessions/new?lang=en", data=later, headers=HTML)
    assert r.status_code == 422
    text = html.unescape(r.text)
    assert 'href="#day"' in text
    assert "Day: is in the past: choose today or a later day" in text
    assert await count(clean_db, tenant, Session) == 0


async def test_a_region_admin_chooses_the_centre_by_its_code(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    await _browser(client, clean_db, settings, tenant, "region_admin", region_code="NOR")
    form = await client.get(f"/{tenant.code}/staff/sessions/new?lang=en", headers=HTML)
    assert 'value="HC-1"' in form.text
    missing = await client.post(
        f"/{tenant.code}/staff/sessions/new", data=_form(facility_id="NOPE"), headers=HTML
    )
    assert missing.status_code == 422
    assert 'href="#facility_id"' in missing.text
    done = await client.post(
        f"/{tenant.code}/staff/sessions/new", data=_form(facility_id="hc-1"), headers=HTML
    )
    assert done.status_code == 303, done.text
    listed = await client.get(f"/{tenant.code}/staff/sessions?lang=en", headers=HTML)
    assert "Hillcrest Health Centre" in listed.text


async def test_a_vaccinator_has_no_session_pages(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    manager = await staff(client, clean_db, settings, tenant, facility_id=centre)
    out = await publish(client, tenant, manager, body(centre))
    await _browser(client, clean_db, settings, tenant, "vaccinator", facility_id=centre)
    home = await client.get(f"/{tenant.code}/staff/?lang=en", headers=HTML)
    assert "/staff/sessions" not in home.text
    for path in ("", "/new", f"/{out['id']}/cancel"):
        r = await client.get(f"/{tenant.code}/staff/sessions{path}", headers=HTML)
        assert r.status_code == 403, path
    r = await client.post(
        f"/{tenant.code}/staff/sessions/{out['id']}/cancel", data={"csrf_token": CSRF}, headers=HTML
    )
    assert r.status_code == 403
    assert await count(clean_db, tenant, Session, Session.status == "open") == 1
