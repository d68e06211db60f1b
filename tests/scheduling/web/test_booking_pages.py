"""The citizen booking pages over HTTP: member, place, day, slot, confirm; the code shown;
a slot chosen in the search; every refusal in words with a way forward."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from babel.dates import format_date, format_time
from sqlalchemy import select

from tests.scheduling.booking.support import DAY, add_people, given, seats, slot
from tests.scheduling.web.support import CSRF, HTML, link, links, sign_in, summary, text
from vaxport.core.db import Database
from vaxport.scheduling.models import Appointment
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


async def _appointments(db: Database, tenant: TenantInfo, person: uuid.UUID) -> list[Any]:
    """The person's booked appointments: ``(id, booking_code, starts_at)`` rows."""
    async with db.read(tenant_id=tenant.id) as s:
        rows = await s.execute(
            select(Appointment.id, Appointment.booking_code, Appointment.starts_at).where(
                Appointment.beneficiary_id == person, Appointment.status == "booked"
            )
        )
        return list(rows.all())


async def test_a_citizen_books_step_by_step_and_sees_the_booking_code(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    me = await sign_in(client, clean_db, settings, tenant)
    [member] = await add_people(clean_db, tenant, 1, account_id=me)
    first, second = await slot(clean_db, tenant, centre, slots=2, seats=3)
    base = f"/{tenant.code}"

    r = await client.get(f"{base}/family", headers=HTML)
    assert link(r.text, rf"^{base}/family/{member}/appointments$")
    r = await client.get(link(r.text, rf"^{base}/book/{member}$"), headers=HTML)
    assert r.status_code == 200, r.text
    assert "Hillcrest Health Centre" in r.text  # the member's own region, at first
    assert "6 free places" in text(r.text)
    r = await client.get(link(r.text, rf"/book/{member}/at/{centre}$"), headers=HTML)
    day_text = format_date(DAY, "full", locale="en")
    assert day_text in text(r.text)
    r = await client.get(link(r.text, rf"/at/{centre}/{DAY.isoformat()}$"), headers=HTML)
    assert "3 places left" in text(r.text)
    times = links(r.text, r"/confirm\?slot=")
    assert times == [f"{base}/book/{member}/confirm?slot={s}" for s in (first, second)]

    r = await client.get(times[0], headers=HTML)
    assert r.status_code == 200
    assert "Book this appointment" in r.text
    r = await client.post(
        f"{base}/book/{member}/confirm", data={"csrf_token": CSRF, "slot": str(first)}
    )
    assert r.status_code == 303, r.text
    [made] = await _appointments(clean_db, tenant, member)
    assert r.headers["location"] == f"{base}/appointments/{made.id}?done=booked"
    r = await client.get(r.headers["location"], headers=HTML)
    shown = text(r.text)
    assert "The appointment is booked." in shown
    assert f'<p class="code">{made.booking_code}</p>' in r.text
    local = made.starts_at.astimezone(ZoneInfo(tenant.config.timezone))
    shown_time = re.sub(r"\s+", " ", format_time(local, "short", locale="en"))
    assert shown_time in shown  # the centre's time, not UTC
    assert day_text in shown
    assert "Hillcrest Health Centre, 12 Main Street, Hillcrest Town" in shown
    r = await client.get(f"{base}/appointments/{made.id}?lang=fr", headers=HTML)
    in_french = text(r.text)
    assert format_date(DAY, "full", locale="fr") in in_french  # in the reader's language
    assert re.sub(r"\s+", " ", format_time(local, "short", locale="fr")) in in_french
    assert made.booking_code in in_french
    assert await seats(clean_db, tenant.id, [first, second]) == [1, 0]

    r = await client.get(f"{base}/family/{member}/appointments", headers=HTML)
    assert made.booking_code in r.text
    r = await client.get(f"{base}/account", headers=HTML)
    assert link(r.text, rf"^{base}/book$")


async def test_a_slot_chosen_in_the_search_goes_from_the_member_straight_to_confirmation(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    me = await sign_in(client, clean_db, settings, tenant)
    people = await add_people(clean_db, tenant, 2, account_id=me)
    [slot_id] = await slot(clean_db, tenant, centre)
    r = await client.get(f"/{tenant.code}/book?slot={slot_id}", headers=HTML)
    assert r.status_code == 200
    assert "Hillcrest Health Centre" in r.text
    choices = links(r.text, r"/confirm\?slot=")
    assert choices == [f"/{tenant.code}/book/{p}/confirm?slot={slot_id}" for p in people]

    for unknown in (str(uuid.uuid4()), "not-a-slot"):
        r = await client.get(f"/{tenant.code}/book?slot={unknown}", headers=HTML)
        assert r.status_code == 404
        assert "This slot does not exist" in summary(r.text)
        assert links(r.text, rf"^/{tenant.code}/book/{people[0]}$")  # choose one yourself


async def test_each_refusal_is_told_in_words_with_a_way_forward_and_books_nothing(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    me = await sign_in(client, clean_db, settings, tenant)
    adult, other, child, second_dose = await add_people(clean_db, tenant, 4, account_id=me)
    await _rename(clean_db, tenant, {child: dt.date.today() - dt.timedelta(days=365 * 5)})
    given_on = dt.date.today() - dt.timedelta(days=3)
    await given(clean_db, tenant, centre, second_dose, product_id="covid-mrna", day=given_on)
    [full] = await slot(clean_db, tenant, centre, seats=1)
    [free] = await slot(clean_db, tenant, centre, seats=5)
    base = f"/{tenant.code}/book"

    async def confirm(person: uuid.UUID, slot_id: uuid.UUID | str) -> httpx.Response:
        return await client.post(
            f"{base}/{person}/confirm", data={"csrf_token": CSRF, "slot": str(slot_id)}
        )

    assert (await confirm(adult, full)).status_code == 303
    r = await confirm(other, full)
    assert r.status_code == 409
    assert "Someone has just taken the last place in this slot" in summary(r.text)
    assert link(r.text, rf"^{base}/{other}/at/{centre}$")  # choose another slot

    r = await confirm(adult, free)
    assert r.status_code == 409
    said = summary(r.text)
    assert "Person0 already has an appointment for dose 1 on" in said
    assert format_date(DAY, "full", locale="en") in said
    assert link(r.text, rf"^/{tenant.code}/family/{adult}/appointments$")

    r = await confirm(child, free)
    assert r.status_code == 422
    said = summary(r.text)
    assert "Person2 is too young for this vaccine on that day" in said
    assert "the minimum age is 12 years" in said

    r = await confirm(second_dose, free)
    assert r.status_code == 422
    said = summary(r.text)
    due = format_date(given_on + dt.timedelta(days=21), "full", locale="en")
    assert "It is too early for dose 2 of Person3" in said
    assert f"Choose a slot on or after {due}" in said
    assert "Book this appointment" not in r.text  # no button to repeat the refusal

    r = await confirm(adult, uuid.uuid4())
    assert r.status_code == 422
    assert "This slot does not exist" in summary(r.text)
    r = await confirm(adult, "nonsense")
    assert r.status_code == 404
    assert await seats(clean_db, tenant.id, [full, free]) == [1, 0]


async def _rename(db: Database, tenant: TenantInfo, births: dict[uuid.UUID, dt.date]) -> None:
    from vaxport.registration.models import Beneficiary

    async with db.transaction(tenant_id=tenant.id) as uow:
        for person_id, born in births.items():
            person = await uow.session.get(Beneficiary, person_id)
            assert person is not None
            person.birth_date = born
            person.birth_year = born.year


async def test_a_signed_out_visitor_and_a_form_without_its_token_are_turned_away(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    [slot_id] = await slot(clean_db, tenant, centre)
    r = await client.get(f"/{tenant.code}/book?slot={slot_id}", headers=HTML)
    assert r.status_code == 303
    assert r.headers["location"] == (
        f"/{tenant.code}/sign-in?next=%2F{tenant.code}%2Fbook%3Fslot%3D{slot_id}"
    )
    me = await sign_in(client, clean_db, settings, tenant)
    [member] = await add_people(clean_db, tenant, 1, account_id=me)
    r = await client.post(f"/{tenant.code}/book/{member}/confirm", data={"slot": str(slot_id)})
    assert r.status_code == 403
    assert await seats(clean_db, tenant.id, [slot_id]) == [0]
