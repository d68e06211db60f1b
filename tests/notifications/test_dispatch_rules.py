"""What decides whether and when a queued message goes: schedule, cancellation, relevance,
quiet hours and per-recipient caps."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from tests.notifications.dispatch_support import (
    PHONE,
    fast_forward,
    notifications,
    pending_delays,
    queue,
    row_of,
    run_worker,
    sms_http,
    tenant_with,
)
from tests.notifications.peers import RunningHttpPeer
from tests.support.parts import PARTS
from tests.support.tenants import load_tenant
from vaxport import wiring
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork
from vaxport.notifications import service
from vaxport.notifications.events import MessageRef
from vaxport.settings import Settings

pytestmark = pytest.mark.usefixtures("dispatch_env")
OTHER_PHONE = "+14165550199"


def gateway(peer: RunningHttpPeer, **extra: object) -> dict[str, object]:
    return notifications(sms_http(peer.url), sms="gateway", **extra)


async def test_a_scheduled_message_waits_for_its_time(
    clean_db: Database, cache: Cache, fast: Settings, http_peer: RunningHttpPeer
) -> None:
    tenant = await tenant_with(clean_db, gateway(http_peer))
    due = utcnow() + dt.timedelta(hours=24)
    message_id = await queue(clean_db, tenant, to=PHONE, due_at=due, dedup_key="reminder:1")

    assert await run_worker(clean_db, cache, fast) == 0
    [delay] = await pending_delays(clean_db)
    assert 24 * 3600 - 60 < delay <= 24 * 3600
    assert (await row_of(clean_db, tenant, message_id)).status == "queued"

    await fast_forward(clean_db)
    await run_worker(clean_db, cache, fast)
    assert (await row_of(clean_db, tenant, message_id)).status == "sent"


async def test_a_reminder_cancelled_by_a_later_change_is_not_sent(
    clean_db: Database, cache: Cache, fast: Settings, http_peer: RunningHttpPeer
) -> None:
    tenant = await tenant_with(clean_db, gateway(http_peer))
    appointment, other = uuid.uuid4(), uuid.uuid4()
    due = utcnow() + dt.timedelta(hours=1)
    cancelled = await queue(
        clean_db, tenant, to=PHONE, due_at=due, dedup_key="r:1", reason=("appointment", appointment)
    )
    kept = await queue(
        clean_db, tenant, to=PHONE, due_at=due, dedup_key="r:2", reason=("appointment", other)
    )

    # The appointment is cancelled: its use case withdraws the reminder in its transaction.
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        count = await service.cancel_for_reason(
            uow, tenant_id=tenant.id, reason_type="appointment", reason_id=appointment
        )
    assert count == 1

    await fast_forward(clean_db)
    await run_worker(clean_db, cache, fast)
    row = await row_of(clean_db, tenant, cancelled)
    assert (row.status, row.reason, row.attempts, row.data_enc) == (
        "cancelled",
        "withdrawn",
        0,
        None,
    )
    assert (await row_of(clean_db, tenant, kept)).status == "sent"
    assert len(http_peer.peer.requests) == 1


async def test_a_relevance_check_stops_a_message_whose_reason_no_longer_holds(
    clean_db: Database, cache: Cache, fast: Settings, http_peer: RunningHttpPeer
) -> None:
    tenant = await tenant_with(clean_db, gateway(http_peer))
    given: set[str] = set()
    asked: list[MessageRef] = []

    async def dose_still_due(uow: UnitOfWork, ref: MessageRef) -> bool:
        assert uow.tenant_id == ref.tenant_id  # runs scoped to the message's tenant
        asked.append(ref)
        return ref.reason_id not in given

    wiring.install(replace(PARTS, relevance_checks={"test_message": dose_still_due}))
    try:
        done = await queue(clean_db, tenant, to=PHONE, dedup_key="d:1", reason=("dose", "D1"))
        due = await queue(clean_db, tenant, to=PHONE, dedup_key="d:2", reason=("dose", "D2"))
        plain = await queue(clean_db, tenant, to=PHONE, dedup_key="d:3")
        given.add("D1")  # recorded by another context, which never called cancel_for_reason
        await run_worker(clean_db, cache, fast)
    finally:
        wiring.install(PARTS)

    assert (await row_of(clean_db, tenant, done)).reason == "no_longer_relevant"
    assert (await row_of(clean_db, tenant, due)).status == "sent"
    assert (await row_of(clean_db, tenant, plain)).status == "sent"
    assert sorted(r.reason_id for r in asked) == ["D1", "D2"]  # only messages with a reason


def _quiet_now(tz: str) -> dict[str, object]:
    """A quiet-hours window around the current time in ``tz``; test messages not exempt."""
    local = utcnow().astimezone(ZoneInfo(tz))
    start = (local - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local + dt.timedelta(hours=2)).time().replace(second=0, microsecond=0)
    return {
        "start": start.isoformat(timespec="minutes"),
        "end": end.isoformat(timespec="minutes"),
        "exempt_events": ["login_code"],
    }


async def test_quiet_hours_delay_a_non_urgent_message_but_not_an_urgent_one(
    clean_db: Database, cache: Cache, fast: Settings, http_peer: RunningHttpPeer
) -> None:
    quiet = _quiet_now("America/Toronto")
    tenant = await tenant_with(clean_db, gateway(http_peer, quiet_hours=quiet))
    later = await queue(clean_db, tenant, to=PHONE, dedup_key="q:1")
    now = await queue(clean_db, tenant, to=PHONE, dedup_key="q:2", urgent=True)

    await run_worker(clean_db, cache, fast)

    assert (await row_of(clean_db, tenant, now)).status == "sent"
    assert (await row_of(clean_db, tenant, later)).status == "queued"
    [delay] = await pending_delays(clean_db)
    assert 3600 < delay <= 2 * 3600  # released when the window ends
    assert len(http_peer.peer.requests) == 1


async def test_quiet_hours_that_begin_after_queueing_hold_the_message_at_send_time(
    clean_db: Database, cache: Cache, fast: Settings, http_peer: RunningHttpPeer
) -> None:
    tenant = await tenant_with(clean_db, gateway(http_peer))
    message_id = await queue(clean_db, tenant, to=PHONE)
    # The ministry adds quiet hours before the worker gets to the message.
    section = gateway(http_peer, quiet_hours=_quiet_now("America/Toronto"))
    await load_tenant(clean_db, cache, code=tenant.code, changes={"notifications": section})

    await run_worker(clean_db, cache, fast)

    row = await row_of(clean_db, tenant, message_id)
    assert (row.status, row.attempts) == ("queued", 0)
    [delay] = await pending_delays(clean_db)
    assert 3600 < delay <= 2 * 3600
    assert http_peer.peer.requests == []


async def test_caps_stop_non_urgent_messages_to_one_destination(
    clean_db: Database, cache: Cache, fast: Settings, http_peer: RunningHttpPeer
) -> None:
    tenant = await tenant_with(clean_db, gateway(http_peer, caps={"per_hour": 2, "per_day": 5}))
    first = [await queue(clean_db, tenant, to=PHONE, dedup_key=f"c:{i}") for i in range(3)]
    urgent = await queue(clean_db, tenant, to=PHONE, dedup_key="c:urgent", urgent=True)
    elsewhere = await queue(clean_db, tenant, to=OTHER_PHONE, dedup_key="c:other")

    await run_worker(clean_db, cache, fast)

    statuses = [(await row_of(clean_db, tenant, m)) for m in first]
    assert sorted(r.status for r in statuses) == ["cancelled", "sent", "sent"]
    assert [r.reason for r in statuses if r.status == "cancelled"] == ["recipient_cap"]
    assert (await row_of(clean_db, tenant, urgent)).status == "sent"  # login codes get through
    assert (await row_of(clean_db, tenant, elsewhere)).status == "sent"
    assert len(http_peer.peer.requests) == 4


async def test_caps_count_a_day_across_hours(
    clean_db: Database, cache: Cache, fast: Settings, http_peer: RunningHttpPeer
) -> None:
    caps = {"per_hour": None, "per_day": 2}
    tenant = await tenant_with(clean_db, gateway(http_peer, caps=caps))
    ids = [await queue(clean_db, tenant, to=PHONE, dedup_key=f"d:{i}") for i in range(3)]

    await run_worker(clean_db, cache, fast)

    rows = [await row_of(clean_db, tenant, m) for m in ids]
    assert sorted(str(r.reason) for r in rows) == ["None", "None", "recipient_cap"]
