"""Randomized release: requests in the window become tickets, a random draw decides them."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import secrets
import uuid

import httpx
import pytest
from sqlalchemy import func, select

from tests.identity.helpers import actor_for
from tests.registration.conftest import citizen_token, make_facility, staff_token
from tests.registration.review.review_support import audit_actions
from tests.scheduling.conftest import REGION
from tests.scheduling.fairness.support import (
    WINDOW,
    people,
    released_session,
    seats_and_owners,
)
from tests.scheduling.seed import open_session
from tests.support.clock import tenant_today
from tests.support.tenants import load_tenant
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.errors import error_code
from vaxport.core.outbox.models import OutboxEvent
from vaxport.scheduling import release_draw
from vaxport.scheduling.fairness import jobs
from vaxport.scheduling.models import ReleaseDraw, ReleaseTicket, Session, WaitlistEntry
from vaxport.scheduling.service import (
    NotEligible,
    WaitlistIn,
    join_waitlist,
    release_state,
    request_ticket,
)
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


def tickets_url(tenant: TenantInfo, session_id: uuid.UUID, suffix: str = "") -> str:
    return f"/api/v1/{tenant.code}/sessions/{session_id}/tickets{suffix}"


async def test_a_citizen_asks_for_a_ticket_and_reads_the_draw_s_answer(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    [member] = await people(clean_db, tenant, 1, account_id=me.id)
    seeded = await released_session(clean_db, tenant, centre, seats=2)
    r = await client.post(
        tickets_url(tenant, seeded.session_id),
        json={"beneficiary_id": str(member)},
        headers=me.headers,
    )
    assert r.status_code == 202, r.text
    ticket = r.json()
    assert ticket["status"] == "waiting"
    assert r.headers["location"] == tickets_url(tenant, seeded.session_id, f"/{ticket['id']}")
    again = await client.post(
        tickets_url(tenant, seeded.session_id),
        json={"beneficiary_id": str(member)},
        headers=me.headers,
    )
    assert again.json()["id"] == ticket["id"]  # one ticket per person and session

    done = await jobs.run_once(db=clean_db, cache=cache, now=utcnow() + WINDOW)
    assert done.drawn == 1
    got = await client.get(
        tickets_url(tenant, seeded.session_id, f"/{ticket['id']}"), headers=me.headers
    )
    assert got.status_code == 200
    won = got.json()
    assert won["status"] == "won"
    assert won["outcome"] == "booked"
    assert won["appointment_id"] is not None
    assert len(won["booking_code"]) == 8
    assert await seats_and_owners(clean_db, tenant, seeded.slot_ids) == (1, 1)

    stranger = await citizen_token(clean_db, settings, tenant)
    hidden = await client.get(
        tickets_url(tenant, seeded.session_id, f"/{ticket['id']}"), headers=stranger.headers
    )
    assert hidden.status_code == 404
    theirs = await client.post(
        tickets_url(tenant, seeded.session_id),
        json={"beneficiary_id": str(member)},
        headers=stranger.headers,
    )
    assert theirs.status_code == 404


async def test_tickets_are_refused_before_the_release_after_the_window_and_without_a_release(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    [member] = await people(clean_db, tenant, 1, account_id=me.id)
    body = {"beneficiary_id": str(member)}
    later = await released_session(
        clean_db, tenant, centre, release_at=utcnow() + dt.timedelta(hours=1)
    )
    over = await released_session(
        clean_db, tenant, centre, release_at=utcnow() - WINDOW - dt.timedelta(seconds=5)
    )
    plain = await open_session(clean_db, tenant.id, centre, region_code=REGION, day=later_day())
    cases = [
        (later.session_id, 409, "release-not-open"),
        (over.session_id, 409, "release-window-closed"),
        (plain.session_id, 409, "not-released"),
        (uuid.uuid4(), 404, "not-found"),
    ]
    for session_id, status, slug in cases:
        r = await client.post(tickets_url(tenant, session_id), json=body, headers=me.headers)
        assert r.status_code == status, r.text
        assert r.json()["type"].endswith(slug)
    not_open = await client.post(
        tickets_url(tenant, later.session_id), json=body, headers=me.headers
    )
    assert "opens_at" in not_open.json()
    bad = await client.post(
        tickets_url(tenant, later.session_id), json={"beneficiary_id": "x"}, headers=me.headers
    )
    assert bad.status_code == 422
    extra = await client.post(
        tickets_url(tenant, later.session_id), json={**body, "vip": True}, headers=me.headers
    )
    assert extra.status_code == 422
    async with clean_db.read(tenant_id=tenant.id) as s:
        assert (await s.execute(select(func.count()).select_from(ReleaseTicket))).scalar_one() == 0


def later_day() -> dt.date:
    return dt.date.today() + dt.timedelta(days=4)


async def test_a_ticket_counts_toward_the_booking_limit_and_ineligible_people_get_none(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    [member] = await people(clean_db, tenant, 1, account_id=me.id)
    [child] = await people(clean_db, tenant, 1, account_id=me.id, birth_date=dt.date.today())
    first = await released_session(clean_db, tenant, centre)
    second = await released_session(clean_db, tenant, centre, day=later_day())
    ok = await client.post(
        tickets_url(tenant, first.session_id),
        json={"beneficiary_id": str(member)},
        headers=me.headers,
    )
    assert ok.status_code == 202
    # The demo allows one appointment to come per person: a waiting ticket is one.
    limited = await client.post(
        tickets_url(tenant, second.session_id),
        json={"beneficiary_id": str(member)},
        headers=me.headers,
    )
    assert limited.status_code == 422
    assert limited.json()["type"].endswith("not-eligible")
    assert [e["code"] for e in limited.json()["errors"]] == ["person-booking-limit"]
    young = await client.post(
        tickets_url(tenant, first.session_id),
        json={"beneficiary_id": str(child)},
        headers=me.headers,
    )
    assert young.status_code == 422
    codes = {e["code"] for e in young.json()["errors"]}
    assert "too-young" in codes
    assert all(e["field"] == "beneficiary_id" for e in young.json()["errors"])


async def test_staff_ask_for_people_in_their_reach_and_are_audited(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    [person] = await people(clean_db, tenant, 1)  # in NOR-01-01, no account
    seeded = await released_session(clean_db, tenant, centre)
    north = await staff_token(client, clean_db, settings, tenant, "region_admin", region_code="NOR")
    south = await staff_token(client, clean_db, settings, tenant, "region_admin", region_code="SOU")
    body = {"beneficiary_id": str(person)}
    refused = await client.post(
        tickets_url(tenant, seeded.session_id), json=body, headers=south.headers
    )
    assert refused.status_code == 404
    made = await client.post(
        tickets_url(tenant, seeded.session_id), json=body, headers=north.headers
    )
    assert made.status_code == 202, made.text
    path = tickets_url(tenant, seeded.session_id, f"/{made.json()['id']}")
    assert (await client.get(path, headers=south.headers)).status_code == 404
    assert (await client.get(path, headers=north.headers)).status_code == 200
    assert await audit_actions(clean_db, tenant, person) == [
        "release.ticket_request",
        "release.ticket_read",
    ]


async def _tickets(
    db: Database, tenant: TenantInfo, session_id: uuid.UUID, persons: list[uuid.UUID]
) -> list[uuid.UUID]:
    """One ticket per person, in this arrival order (a national admin asks for each)."""
    admin = actor_for(tenant, "national_admin")
    return [
        (
            await request_ticket(
                db=db, tenant=tenant, actor=admin, session_id=session_id, beneficiary_id=p
            )
        ).id
        for p in persons
    ]


def _spearman(xs: list[int], ys: list[int]) -> float:
    n = len(xs)
    d2 = sum((x - y) ** 2 for x, y in zip(xs, ys, strict=True))
    return 1 - 6 * d2 / (n * (n * n - 1))


async def test_winners_are_not_ordered_by_arrival(
    clean_db: Database, cache: Cache, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    """200 tickets for 40 seats: with arrival order deciding, the first 40 would win.
    Drawn, the first 40 arrivals win about their share (40 x 40/200 = 8, standard
    deviation ~2.3) and the draw order is uncorrelated with arrival: Spearman's rho is
    near 0 (standard deviation ~1/sqrt(199) = 0.07 if the order is random; 1 if by
    arrival). Bounds at about 3.5 standard deviations; the seed makes it repeatable."""
    seeded = await released_session(clean_db, tenant, centre, slots=4, seats=10)
    persons = await people(clean_db, tenant, 200)
    arrival = await _tickets(clean_db, tenant, seeded.session_id, persons)
    drawn = await release_draw.draw(
        db=clean_db,
        cache=cache,
        tenant=tenant,
        session_id=seeded.session_id,
        now=utcnow() + WINDOW,
        rng=random.Random(20261207),  # a fixed seed: the test is repeatable
    )
    assert drawn
    async with clean_db.read(tenant_id=tenant.id) as s:
        rows = (
            await s.execute(
                select(ReleaseTicket.id, ReleaseTicket.status, ReleaseTicket.draw_position).where(
                    ReleaseTicket.session_id == seeded.session_id
                )
            )
        ).all()
    position = {t: p for t, _, p in rows}
    won = {t for t, status, _ in rows if status == "won"}
    assert len(won) == 40
    assert sum(1 for t in arrival[:40] if t in won) <= 16
    rho = _spearman(list(range(200)), [position[t] for t in arrival])
    assert abs(rho) < 0.25, rho
    # Winners are exactly the first 40 drawn, and no seat is sold twice.
    assert {t for t in arrival if position[t] <= 40} == won
    assert await seats_and_owners(clean_db, tenant, seeded.slot_ids) == (40, 40)


async def test_the_draw_s_randomness_is_the_operating_system_s() -> None:
    assert isinstance(release_draw.new_rng(), secrets.SystemRandom)


async def test_two_draws_at_once_decide_each_ticket_once_and_oversell_nothing(
    clean_db: Database, cache: Cache, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    seeded = await released_session(clean_db, tenant, centre, slots=2, seats=5)
    await _tickets(clean_db, tenant, seeded.session_id, await people(clean_db, tenant, 30))
    later = utcnow() + WINDOW

    async def one() -> bool:
        return await release_draw.draw(
            db=clean_db, cache=cache, tenant=tenant, session_id=seeded.session_id, now=later
        )

    results = await asyncio.gather(one(), one(), one())
    assert sorted(results) == [False, False, True]
    assert not await one()  # and a later round finds nothing to do
    async with clean_db.read(tenant_id=tenant.id) as s:
        statuses = (
            await s.scalars(
                select(ReleaseTicket.status).where(ReleaseTicket.session_id == seeded.session_id)
            )
        ).all()
        draws = (await s.execute(select(ReleaseDraw.tickets, ReleaseDraw.winners))).all()
        lost = (
            await s.execute(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.event_type == "release.ticket_lost")
            )
        ).scalar_one()
        places = (await s.execute(select(func.count()).select_from(WaitlistEntry))).scalar_one()
    assert sorted(statuses).count("won") == 10
    assert sorted(statuses).count("lost") == 20
    assert [tuple(d) for d in draws] == [(30, 10)]
    assert lost == 20
    assert places == 20  # losers asked (by default) to wait for a seat of that day
    assert await seats_and_owners(clean_db, tenant, seeded.slot_ids) == (10, 10)


async def test_booking_is_gated_until_the_draw_then_first_come(
    clean_db: Database, cache: Cache, tenant: TenantInfo, centre: uuid.UUID
) -> None:
    start = utcnow() + dt.timedelta(minutes=10)
    seeded = await released_session(clean_db, tenant, centre, release_at=start)
    async with clean_db.read(tenant_id=tenant.id) as s:
        session = await s.get(Session, seeded.session_id)
        assert session is not None
        states = [
            await release_state(s, tenant, session, now=start - dt.timedelta(seconds=1)),
            await release_state(s, tenant, session, now=start),
            await release_state(s, tenant, session, now=start + WINDOW),
        ]
    assert states == ["not-yet", "queue", "drawing"]
    # No ticket at all: the draw still runs, and opens the session to first come.
    assert await jobs.run_once(db=clean_db, cache=cache, now=start + WINDOW) == jobs.Round(1, 0, 0)
    async with clean_db.read(tenant_id=tenant.id) as s:
        session = await s.get(Session, seeded.session_id)
        assert session is not None
        assert await release_state(s, tenant, session, now=start + WINDOW) == "first-come"
    assert await jobs.run_once(db=clean_db, cache=cache, now=start + WINDOW) == jobs.Round()


async def test_a_retried_ticket_request_with_its_idempotency_key_gets_the_first_answer(
    client: httpx.AsyncClient,
    clean_db: Database,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
) -> None:
    me = await citizen_token(clean_db, settings, tenant)
    [member] = await people(clean_db, tenant, 1, account_id=me.id)
    seeded = await released_session(clean_db, tenant, centre)
    headers = {**me.headers, "Idempotency-Key": str(uuid.uuid4())}
    body = {"beneficiary_id": str(member)}
    first = await client.post(tickets_url(tenant, seeded.session_id), json=body, headers=headers)
    again = await client.post(tickets_url(tenant, seeded.session_id), json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    other = await client.post(
        tickets_url(tenant, seeded.session_id), json={**body, "waitlist": False}, headers=headers
    )
    assert other.status_code == 422  # the key is bound to its first request


async def test_an_account_s_tickets_and_places_count_toward_its_limit(
    clean_db: Database, cache: Cache, settings: Settings
) -> None:
    booking = {"days_ahead": 28, "cancel_cutoff_hours": 2, "slot_minutes": 10}
    strict = await load_tenant(
        clean_db,
        cache,
        changes={"booking": {**booking, "limits": {"live_per_person": 1, "live_per_account": 2}}},
    )
    here = await make_facility(clean_db, cache, strict, code="S-1", region_code=REGION)
    account = uuid.uuid4()
    me = actor_for(strict, "citizen", kind="citizen", account_id=account)
    first, second, third = await people(clean_db, strict, 3, account_id=account)
    seeded = await released_session(clean_db, strict, here)
    await request_ticket(
        db=clean_db, tenant=strict, actor=me, session_id=seeded.session_id, beneficiary_id=first
    )
    place = {
        "beneficiary_id": str(second),
        "region_code": "NOR",
        "from": tenant_today(strict).isoformat(),
        "to": (tenant_today(strict) + dt.timedelta(days=7)).isoformat(),
        "product_id": "covid-mrna",
    }
    await join_waitlist(db=clean_db, tenant=strict, actor=me, body=WaitlistIn.model_validate(place))
    with pytest.raises(NotEligible) as refused:
        await request_ticket(
            db=clean_db, tenant=strict, actor=me, session_id=seeded.session_id, beneficiary_id=third
        )
    assert [error_code(e) for e in refused.value.errors] == ["account-booking-limit"]
