"""A member's appointments over HTTP: cancel after a confirmation step (refused past the
cutoff), move to another slot (the old seat freed only with the new one taken), and
nothing of another account's family reachable."""

from __future__ import annotations

import datetime as dt
import uuid

import httpx
from sqlalchemy import select

from tests.scheduling.booking.support import add_people, seats, slot
from tests.scheduling.conftest import REGION
from tests.scheduling.seed import open_session
from tests.scheduling.web.support import CSRF, HTML, link, links, sign_in, summary, text
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.registration.models import Beneficiary
from vaxport.scheduling.appointments import Seat, book_in
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


async def _book(
    client: httpx.AsyncClient, tenant: TenantInfo, member: uuid.UUID, slot_id: uuid.UUID
) -> str:
    """Book through the page; the appointment page's path."""
    r = await client.post(
        f"/{tenant.code}/book/{member}/confirm", data={"csrf_token": CSRF, "slot": str(slot_id)}
    )
    assert r.status_code == 303, r.text
    return r.headers["location"].split("?")[0]


async def test_cancelling_asks_first_then_frees_the_seat(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    me = await sign_in(client, clean_db, settings, tenant)
    [member] = await add_people(clean_db, tenant, 1, account_id=me)
    [slot_id] = await slot(clean_db, tenant, centre)
    item = await _book(client, tenant, member, slot_id)
    r = await client.get(item, headers=HTML)
    r = await client.get(link(r.text, r"/cancel$"), headers=HTML)
    assert r.status_code == 200
    assert "Yes, cancel it" in r.text
    assert link(r.text, rf"^{item}$")  # no, keep it
    assert await seats(clean_db, tenant.id, [slot_id]) == [1]  # asking changed nothing

    r = await client.post(item + "/cancel", data={"csrf_token": CSRF})
    assert r.status_code == 303
    assert r.headers["location"] == f"/{tenant.code}/family/{member}/appointments?done=cancelled"
    r = await client.get(r.headers["location"], headers=HTML)
    assert "The appointment was cancelled." in r.text
    assert "Person0 has no appointment to come." in text(r.text)
    assert await seats(clean_db, tenant.id, [slot_id]) == [0]


async def test_cancelling_or_moving_past_the_cutoff_is_refused_with_what_to_do(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    me = await sign_in(client, clean_db, settings, tenant)
    [member] = await add_people(clean_db, tenant, 1, account_id=me)
    soon = utcnow().replace(second=0, microsecond=0) + dt.timedelta(hours=1)
    seeded = await open_session(
        clean_db, tenant.id, centre, region_code=REGION, day=soon.date(), start=soon.time()
    )
    [slot_id] = seeded.slot_ids
    item = await _book(client, tenant, member, slot_id)
    r = await client.post(item + "/cancel", data={"csrf_token": CSRF})
    assert r.status_code == 409
    said = summary(r.text)
    assert "up to 2 hours before they start" in said
    assert "please call the centre" in said
    assert "Yes, cancel it" not in r.text
    assert link(r.text, rf"/family/{member}/appointments$")
    [later] = await slot(clean_db, tenant, centre)
    r = await client.post(item + "/move/confirm", data={"csrf_token": CSRF, "slot": str(later)})
    assert r.status_code == 409
    assert "up to 2 hours before they start" in summary(r.text)
    assert await seats(clean_db, tenant.id, [slot_id, later]) == [1, 0]


async def test_moving_takes_the_new_slot_and_frees_the_old_one(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    me = await sign_in(client, clean_db, settings, tenant)
    [member] = await add_people(clean_db, tenant, 1, account_id=me)
    old, new = await slot(clean_db, tenant, centre, slots=2)
    [other_vaccine] = await slot(clean_db, tenant, centre, product_id="mmr", dose_numbers=(1,))
    item = await _book(client, tenant, member, old)
    old_code = text((await client.get(item, headers=HTML)).text)

    r = await client.get(item + "/move", headers=HTML)
    assert r.status_code == 200
    r = await client.get(link(r.text, rf"/move/at/{centre}$"), headers=HTML)
    r = await client.get(link(r.text, r"/move/at/.+/\d{4}-\d\d-\d\d$"), headers=HTML)
    # The same vaccine only, and not the appointment's own slot.
    assert links(r.text, r"/confirm\?slot=") == [f"{item}/move/confirm?slot={new}"]
    assert str(other_vaccine) not in r.text
    r = await client.get(f"{item}/move/confirm?slot={new}", headers=HTML)
    assert "Change to this time" in r.text
    assert "Now" in text(r.text)

    r = await client.post(item + "/move/confirm", data={"csrf_token": CSRF, "slot": str(new)})
    assert r.status_code == 303, r.text
    moved = r.headers["location"]
    assert moved.endswith("?done=moved")
    assert moved.split("?")[0] != item
    r = await client.get(moved, headers=HTML)
    assert "The appointment was changed." in r.text
    assert '<p class="code">' in r.text
    assert await seats(clean_db, tenant.id, [old, new]) == [0, 1]
    assert old_code  # the old page still answers (it shows the cancelled appointment)


async def test_a_refused_move_keeps_the_old_appointment(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    me = await sign_in(client, clean_db, settings, tenant)
    people = await add_people(clean_db, tenant, 2, account_id=me)
    [old] = await slot(clean_db, tenant, centre)
    [full] = await slot(clean_db, tenant, centre, seats=1)
    item = await _book(client, tenant, people[0], old)
    await _book(client, tenant, people[1], full)
    r = await client.post(item + "/move/confirm", data={"csrf_token": CSRF, "slot": str(full)})
    assert r.status_code == 409
    assert "Someone has just taken the last place" in summary(r.text)
    assert link(r.text, rf"^{item}/move/at/{centre}$")
    assert await seats(clean_db, tenant.id, [old, full]) == [1, 1]
    r = await client.get(f"/{tenant.code}/family/{people[0]}/appointments", headers=HTML)
    assert links(r.text, rf"^{item}$")


async def test_another_account_reaches_nothing_of_the_family(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    me = await sign_in(client, clean_db, settings, tenant)
    [member] = await add_people(clean_db, tenant, 1, account_id=me)
    a, b = await slot(clean_db, tenant, centre, slots=2)
    item = await _book(client, tenant, member, a)
    await sign_in(client, clean_db, settings, tenant)  # the peer, on the same browser
    base = f"/{tenant.code}"
    pages = [
        f"{base}/book/{member}",
        f"{base}/book/{member}/at/{centre}",
        f"{base}/book/{member}/confirm?slot={b}",
        f"{base}/family/{member}/appointments",
        item,
        item + "/cancel",
        item + "/move",
        f"{item}/move/confirm?slot={b}",
    ]
    for path in pages:
        r = await client.get(path, headers=HTML)
        assert r.status_code == 404, path
    forms = [
        (f"{base}/book/{member}/confirm", {"slot": str(b)}),
        (item + "/cancel", {}),
        (item + "/move/confirm", {"slot": str(b)}),
    ]
    for path, form in forms:
        r = await client.post(path, data={"csrf_token": CSRF, **form}, headers=HTML)
        assert r.status_code == 404, path
    r = await client.get(f"{base}/book", headers=HTML)
    assert str(member) not in r.text
    assert await seats(clean_db, tenant.id, [a, b]) == [1, 0]


async def _offer(
    db: Database, tenant: TenantInfo, member: uuid.UUID, slot_id: uuid.UUID, until: dt.datetime
) -> uuid.UUID:
    """A waitlist offer held for ``member`` until ``until`` (as the waitlist makes one)."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        account = await uow.session.scalar(
            select(Beneficiary.account_id).where(Beneficiary.id == member)
        )
        seat = Seat(member, account, "covid-19", 1, None)
        row = await book_in(uow, tenant.id, slot_id, seat, hold_until=until)
    assert row is not None
    return row.id


async def test_a_held_offer_is_taken_from_its_page_and_a_lapsed_one_is_said_in_words(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    me = await sign_in(client, clean_db, settings, tenant)
    [member, other] = await add_people(clean_db, tenant, 2, account_id=me)
    [slot_id] = await slot(clean_db, tenant, centre)
    offered = await _offer(clean_db, tenant, member, slot_id, utcnow() + dt.timedelta(hours=1))
    item = f"/{tenant.code}/appointments/{offered}"
    r = await client.get(item, headers=HTML)
    assert "Take this appointment" in r.text
    r = await client.post(item + "/accept", data={"csrf_token": CSRF})
    assert r.status_code == 303
    r = await client.get(r.headers["location"], headers=HTML)
    assert "The offered seat is yours" in r.text
    assert "Take this appointment" not in r.text

    lapsed = await _offer(clean_db, tenant, other, slot_id, utcnow() - dt.timedelta(minutes=1))
    r = await client.post(f"/{tenant.code}/appointments/{lapsed}/accept", data={"csrf_token": CSRF})
    assert r.status_code == 409
    assert summary(r.text)
    r = await client.post(item + "/accept", data={})  # no CSRF token
    assert r.status_code == 403
