"""The vaccinator's console and the record pages, through HTTP as a browser uses them:
forms with CSRF tokens, a refusal answered by the same page with the error summary (and
the override section when the schedule's refusal may be overridden), people out of reach
404, and the citizen's view of their member's doses and adverse event reports."""

from __future__ import annotations

import datetime as dt
import re
import uuid
import zoneinfo
from typing import Any

import httpx

from tests.identity.helpers import actor_for, make_staff
from tests.immunization.helpers import make_dose
from tests.immunization.support import add_lot, audited, doses, person_at
from tests.registration.review.review_support import add_citizen, add_person, web_session
from tests.scheduling.attendance.support import book, session_today, statuses
from tests.scheduling.conftest import REGION
from vaxport.core.db import Database
from vaxport.immunization import service
from vaxport.immunization.schemas import DoseIn
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

HTML = {"accept": "text/html"}
CSRF = "t" * 40


async def _sign_in(
    client: httpx.AsyncClient, db: Database, settings: Settings, tenant: TenantInfo, **scope: Any
) -> uuid.UUID:
    """A browser session of a vaccinator (of ``scope``); their account id."""
    person = await make_staff(db, settings, tenant, role="vaccinator", **scope)
    client.cookies.set("vaxport_session", await web_session(db, settings, tenant, person.id))
    client.cookies.set("vaxport_csrf", CSRF)
    return person.id


def _now_local(tenant: TenantInfo) -> str:
    zone = zoneinfo.ZoneInfo(tenant.config.timezone)
    return dt.datetime.now(zone).strftime("%Y-%m-%dT%H:%M")


def _form(lot: uuid.UUID, **over: str) -> dict[str, str]:
    return {
        "csrf_token": CSRF,
        "product_id": "covid-mrna",
        "lot_id": str(lot),
        "site": "left-arm",
        "route": "IM",
        "notes": "",
    } | over


async def test_a_vaccinator_records_a_dose_from_todays_list_and_sees_the_next_due_date(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    lot: uuid.UUID,
) -> None:
    seeded = await session_today(clean_db, tenant, centre)
    ada = await book(clean_db, tenant, seeded.slot_ids[0], given_name="Ada")
    await add_lot(clean_db, tenant, "covid-mrna", "HOLD-1", on_hold=True)
    await add_lot(
        clean_db, tenant, "covid-mrna", "OLD-1", expires_on=dt.date.today() - dt.timedelta(days=2)
    )
    await add_lot(clean_db, tenant, "covid-protein", "PROT-1")
    vaccinator = await _sign_in(client, clean_db, settings, tenant, facility_id=centre)
    url = f"/{tenant.code}/staff/people/{ada.person_id}/dose"

    today = await client.get(f"/{tenant.code}/staff/today", headers=HTML)
    assert f'href="{url}?appointment={ada.appointment_id}"' in today.text
    r = await client.get(url, params={"appointment": str(ada.appointment_id)}, headers=HTML)

    assert r.status_code == 200, r.text
    form = r.text
    assert '<option value="covid-mrna" selected>' in form  # the session's vaccine
    assert f'<option value="{lot}">EX1234' in form
    assert "HOLD-1" not in form  # on hold
    assert "OLD-1" not in form  # expired
    assert "PROT-1" not in form  # another vaccine's
    assert '<input type="hidden" name="dose_number" value="1">' in form
    assert '<option value="left-arm" selected>' in form
    assert '<option value="IM" selected>' in form
    assert 'name="override_reason"' not in form  # only once the schedule refuses
    posted = _form(lot, appointment_id=str(ada.appointment_id), dose_number="1")
    posted["administered_at"] = _now_local(tenant)

    refused = await client.post(url, data={**posted, "csrf_token": ""}, headers=HTML)
    assert refused.status_code == 403  # no CSRF token
    r = await client.post(url, data=posted, headers=HTML)

    assert r.status_code == 303, r.text
    [row] = await doses(clean_db, tenant)
    assert r.headers["location"] == f"/{tenant.code}/staff/doses/{row.id}?done=recorded"
    assert (row.dose_number, row.lot_id, row.vaccinator_id) == (1, lot, vaccinator)
    assert (row.site, row.route, row.facility_id) == ("left-arm", "IM", centre)
    assert (await statuses(clean_db, tenant))[ada.appointment_id] == "completed"
    done = await client.get(r.headers["location"], headers=HTML)
    assert done.status_code == 200, done.text
    assert "Dose 1 of CoviGuard mRNA is recorded for Ada." in done.text
    due = (row.day + dt.timedelta(days=21)).isoformat()
    assert f"Dose 2 from {due}" in done.text
    today = await client.get(f"/{tenant.code}/staff/today", headers=HTML)
    assert f'href="{url}?appointment={ada.appointment_id}"' not in today.text  # dosed
    # Submitting the same form again (a double tap) records no second dose.
    again = await client.post(url, data=posted, headers=HTML)
    assert again.status_code == 409
    assert "dose 1 is already recorded" in again.text
    assert len(await doses(clean_db, tenant)) == 1


async def test_refusals_come_back_on_the_form_and_an_early_dose_needs_a_reason(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    lot: uuid.UUID,
) -> None:
    person = await person_at(clean_db, tenant, centre)
    await make_dose(clean_db, tenant, beneficiary_id=person, lot_id=lot, region_code=REGION)
    await _sign_in(client, clean_db, settings, tenant, facility_id=centre)
    url = f"/{tenant.code}/staff/people/{person}/dose"

    r = await client.get(url, params={"product": "covid-mrna"}, headers=HTML)
    assert '<input type="hidden" name="dose_number" value="2">' in r.text
    r = await client.post(url, data=_form(lot, lot_id="", dose_number="2"), headers=HTML)
    assert r.status_code == 422
    assert 'class="error-summary"' in r.text
    assert 'href="#lot_id"' in r.text
    assert 'id="lot_id-error"' in r.text
    r = await client.post(
        url, data=_form(lot, dose_number="2", administered_at="yesterday"), headers=HTML
    )
    assert r.status_code == 422
    assert 'id="administered_at-error"' in r.text
    assert 'value="yesterday"' in r.text  # what was typed stays

    r = await client.post(url, data=_form(lot, dose_number="2"), headers=HTML)

    assert r.status_code == 422
    assert "is too early for dose 2" in r.text
    assert 'name="override_reason"' in r.text
    assert len(await doses(clean_db, tenant)) == 1
    r = await client.post(url, data=_form(lot, dose_number="2", override_reason="ok"), headers=HTML)
    assert r.status_code == 422  # a reason of three characters at least
    assert 'id="override_reason-error"' in r.text
    r = await client.post(
        url,
        data=_form(lot, dose_number="2", override_reason="travelling abroad tomorrow"),
        headers=HTML,
    )
    assert r.status_code == 303, r.text
    second = (await doses(clean_db, tenant))[-1]
    assert (second.dose_number, second.overridden) == (2, True)
    assert second.override_reason == "travelling abroad tomorrow"


async def test_people_and_doses_out_of_reach_are_not_found_and_citizens_are_refused(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    elsewhere: uuid.UUID,
    lot: uuid.UUID,
) -> None:
    stranger = await person_at(clean_db, tenant, elsewhere, region_code="CEN-01-01")
    dose = await make_dose(
        clean_db, tenant, beneficiary_id=stranger, lot_id=lot, region_code="CEN-01-01"
    )
    await _sign_in(client, clean_db, settings, tenant, facility_id=centre)
    base = f"/{tenant.code}/staff"

    for path in (
        f"{base}/people/{stranger}",
        f"{base}/people/{stranger}/dose",
        f"{base}/doses/{dose}",
        f"{base}/doses/{dose}/aefi",
        f"{base}/people/{uuid.uuid4()}",
    ):
        assert (await client.get(path, headers=HTML)).status_code == 404, path
    r = await client.post(f"{base}/people/{stranger}/dose", data=_form(lot), headers=HTML)
    assert r.status_code == 404
    assert len(await doses(clean_db, tenant)) == 1  # the stranger's, nothing more

    citizen = await add_citizen(clean_db, tenant)
    client.cookies.set("vaxport_session", await web_session(clean_db, settings, tenant, citizen))
    assert (await client.get(f"{base}/people/{stranger}", headers=HTML)).status_code == 403
    assert (await client.get(f"{base}/doses/{dose}", headers=HTML)).status_code == 403
    r = await client.post(f"{base}/people/{stranger}/dose", data=_form(lot), headers=HTML)
    assert r.status_code == 403


async def test_staff_read_a_persons_record_and_report_an_adverse_event_after_a_dose(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    lot: uuid.UUID,
) -> None:
    person = await person_at(clean_db, tenant, centre)
    dose = await make_dose(
        clean_db, tenant, beneficiary_id=person, lot_id=lot, region_code=REGION, facility_id=centre
    )
    await _sign_in(client, clean_db, settings, tenant, facility_id=centre)
    record = f"/{tenant.code}/staff/people/{person}"
    report = f"/{tenant.code}/staff/doses/{dose}/aefi"

    r = await client.get(record, headers=HTML)
    assert r.status_code == 200, r.text
    assert "EX1234" in r.text
    assert "HC-1" in r.text or "Centre" in r.text
    assert f'href="{report}"' in r.text
    assert "No adverse event reported." in r.text
    assert len(await audited(clean_db, tenant, "dose.read")) == 1
    r = await client.get(report, headers=HTML)
    assert r.status_code == 200
    assert 'type="checkbox" id="symptoms-10037660"' in r.text
    assert 'id="criteria-hospitalisation"' in r.text

    r = await client.post(report, data={"csrf_token": CSRF, "onset_at": ""}, headers=HTML)
    assert r.status_code == 422
    assert 'id="onset_at-error"' in r.text
    onset = dt.datetime.now(zoneinfo.ZoneInfo(tenant.config.timezone)) - dt.timedelta(hours=2)
    filed = {
        "csrf_token": CSRF,
        "symptoms": ["10037660", "10019211"],
        "onset_at": onset.strftime("%Y-%m-%dT%H:%M"),
        "criteria": ["hospitalisation"],
        "outcome": "recovering",
        "narrative": "Admitted overnight for a high fever",
    }
    r = await client.post(report, data={**filed, "symptoms": []}, headers=HTML)
    assert r.status_code == 422
    assert 'id="symptoms-error"' in r.text
    r = await client.post(report, data=filed, headers=HTML)

    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"{record}?done=reported"
    [entry] = await audited(clean_db, tenant, "aefi.report")
    assert entry.details == {"serious": True, "reporter": "staff"}
    r = await client.get(r.headers["location"], headers=HTML)
    assert "Adverse event reported." in r.text
    assert "Hospitalisation, or a longer stay in hospital" in r.text


async def test_a_citizen_sees_their_members_doses_next_due_date_and_reports_an_event(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    lot: uuid.UUID,
) -> None:
    account = await add_citizen(clean_db, tenant)
    member = await add_person(clean_db, tenant, account_id=account, region_code=REGION)
    other = await add_person(clean_db, tenant, region_code=REGION, given_name="Bea")
    vaccinator = actor_for(tenant, "vaccinator", region_code="NOR-01")
    recorded = await service.record_dose(
        db=clean_db,
        tenant=tenant,
        actor=vaccinator,
        body=DoseIn(beneficiary_id=member, product_id="covid-mrna", lot_id=lot, facility_id=centre),
    )
    client.cookies.set("vaxport_session", await web_session(clean_db, settings, tenant, account))
    client.cookies.set("vaxport_csrf", CSRF)
    record = f"/{tenant.code}/family/{member}/record"

    family = await client.get(f"/{tenant.code}/family", headers=HTML)
    assert f'href="{record}"' in family.text
    r = await client.get(record, headers=HTML)

    assert r.status_code == 200, r.text
    assert "Vaccination record of Ada" in r.text
    assert "CoviGuard mRNA" in r.text
    assert "EX1234" in r.text
    due = (recorded.day + dt.timedelta(days=21)).isoformat()
    assert f"Dose 2 from {due}" in r.text
    assert f'href="/{tenant.code}/book/{member}"' in r.text
    not_mine = await client.get(f"/{tenant.code}/family/{other}/record", headers=HTML)
    assert not_mine.status_code == 404
    report = f"/{tenant.code}/family/{member}/aefi"
    r = await client.get(report, params={"dose": str(recorded.id)}, headers=HTML)
    assert re.search(rf'<option value="{recorded.id}" selected>', r.text)

    r = await client.post(report, data={"csrf_token": CSRF, "symptoms": ["nope"]}, headers=HTML)
    assert r.status_code == 422
    onset = dt.datetime.now(zoneinfo.ZoneInfo(tenant.config.timezone)) - dt.timedelta(hours=5)
    filed = {
        "csrf_token": CSRF,
        "dose_id": str(recorded.id),
        "symptoms": ["10022086"],
        "onset_at": onset.strftime("%Y-%m-%dT%H:%M"),
        "outcome": "recovered",
    }
    assert (await client.post(report, data={**filed, "csrf_token": ""})).status_code == 403
    r = await client.post(report, data=filed, headers=HTML)
    assert r.status_code == 303, r.text
    r = await client.get(r.headers["location"], headers=HTML)
    assert "your report is sent" in r.text
    assert "Recovered" in r.text
    r = await client.post(f"/{tenant.code}/family/{other}/aefi", data=filed, headers=HTML)
    assert r.status_code == 404
