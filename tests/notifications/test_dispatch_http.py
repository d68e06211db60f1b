"""Dispatch end to end through the HTTP SMS channels (generic gateway, Twilio) to a real peer.

notify() in a transaction, one real outbox worker, the loopback HTTP peer answering as
scripted: success, transient then success, permanent, timeout, 429 with Retry-After,
and running out of attempts.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from prometheus_client import REGISTRY

from tests.notifications.dispatch_support import (
    PHONE,
    fast_forward,
    keys_seen,
    notifications,
    pending_delays,
    queue,
    redeliver_all,
    row_of,
    run_worker,
    sms_http,
    tenant_with,
    twilio,
)
from tests.notifications.peers import Recorded, Reply, RunningHttpPeer
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.settings import Settings

pytestmark = pytest.mark.usefixtures("dispatch_env")


@dataclass(frozen=True)
class Gateway:
    """One HTTP SMS channel type and how its provider answers."""

    name: str
    type: str
    section: Callable[[str], dict[str, Any]]
    accepted: Reply
    provider_id: str
    refused: Reply
    refused_reason: str
    idempotent: bool

    def destination(self, req: Recorded) -> str:
        if self.name == "twilio":
            return dict(urllib.parse.parse_qsl(req.body.decode()))["To"]
        return str(req.json()["to"])

    def text(self, req: Recorded) -> str:
        if self.name == "twilio":
            return dict(urllib.parse.parse_qsl(req.body.decode()))["Body"]
        return str(req.json()["text"])


GATEWAY = Gateway(
    name="gateway",
    type="sms-http",
    section=lambda url: notifications(sms_http(url), sms="gateway"),
    accepted=Reply(200, {"id": "gw-1"}),
    provider_id="gw-1",
    refused=Reply(400, {"error": "invalid destination"}),
    refused_reason="http_400",
    idempotent=True,
)
TWILIO = Gateway(
    name="twilio",
    type="twilio",
    section=lambda url: notifications(twilio(url), sms="twilio"),
    accepted=Reply(201, {"sid": "SM0001", "status": "queued"}),
    provider_id="SM0001",
    refused=Reply(400, {"code": 21211, "message": "Invalid 'To' Phone Number"}),
    refused_reason="twilio_21211",
    idempotent=False,
)


def _sample(name: str, channel_type: str | None = None, outcome: str | None = None) -> float:
    labels = {"channel_type": channel_type, "kind": "sms", "outcome": outcome}
    value = REGISTRY.get_sample_value(
        name, {k: v for k, v in labels.items() if v is not None} if channel_type else {}
    )
    return value or 0.0


@pytest.fixture(params=[GATEWAY, TWILIO], ids=lambda g: g.name)
def gateway(request: pytest.FixtureRequest, http_peer: RunningHttpPeer) -> Gateway:
    g: Gateway = request.param
    http_peer.peer.default = g.accepted
    return g


async def test_a_message_is_rendered_sent_and_recorded(
    clean_db: Database, cache: Cache, fast: Settings, http_peer: RunningHttpPeer, gateway: Gateway
) -> None:
    tenant = await tenant_with(clean_db, gateway.section(http_peer.url))
    message_id = await queue(clean_db, tenant, to=PHONE, data={"tenant_name": "Demoland"})
    sent_before = _sample("vaxport_notification_messages_total", gateway.type, "sent")
    aged_before = _sample("vaxport_notification_queue_age_seconds_count")

    assert await run_worker(clean_db, cache, fast) == 1

    row = await row_of(clean_db, tenant, message_id)
    assert (row.status, row.attempts, row.channel) == ("sent", 1, gateway.name)
    assert row.provider_message_id == gateway.provider_id
    assert row.data_enc is None  # template data is not kept once the message is out
    [req] = http_peer.peer.requests
    assert gateway.destination(req) == PHONE
    assert "test message from Demoland" in gateway.text(req)
    if gateway.idempotent:
        assert keys_seen([req]) == [str(message_id)]
        assert req.json()["ref"] == str(message_id)
    assert _sample("vaxport_notification_messages_total", gateway.type, "sent") == sent_before + 1
    assert _sample("vaxport_notification_queue_age_seconds_count") == aged_before + 1
    # The event delivered again (its outcome lost with a worker, an operator's redrive):
    # the message is already sent, nothing more goes out.
    await redeliver_all(clean_db)
    assert await run_worker(clean_db, cache, fast) == 1
    assert len(http_peer.peer.requests) == 1
    assert (await row_of(clean_db, tenant, message_id)).attempts == 1


async def test_a_transient_failure_is_retried_with_the_same_key_then_sent(
    clean_db: Database, cache: Cache, fast: Settings, http_peer: RunningHttpPeer, gateway: Gateway
) -> None:
    tenant = await tenant_with(clean_db, gateway.section(http_peer.url))
    http_peer.peer.replies.append(Reply(503, {"error": "busy"}))
    message_id = await queue(clean_db, tenant, to=PHONE)

    await run_worker(clean_db, cache, fast)
    row = await row_of(clean_db, tenant, message_id)
    assert (row.status, row.reason, row.attempts) == ("queued", "http_503", 1)
    [delay] = await pending_delays(clean_db)
    assert delay <= fast.outbox_backoff_max_seconds  # the backoff, no Retry-After given

    await fast_forward(clean_db)
    await run_worker(clean_db, cache, fast)
    row = await row_of(clean_db, tenant, message_id)
    assert (row.status, row.reason, row.attempts) == ("sent", None, 2)
    assert len(http_peer.peer.requests) == 2
    if gateway.idempotent:
        assert set(keys_seen(http_peer.peer.requests)) == {str(message_id)}


async def test_a_permanent_failure_fails_the_message_at_once(
    clean_db: Database, cache: Cache, fast: Settings, http_peer: RunningHttpPeer, gateway: Gateway
) -> None:
    tenant = await tenant_with(clean_db, gateway.section(http_peer.url))
    http_peer.peer.replies.append(gateway.refused)
    message_id = await queue(clean_db, tenant, to=PHONE)

    await run_worker(clean_db, cache, fast)

    row = await row_of(clean_db, tenant, message_id)
    assert (row.status, row.reason, row.attempts) == ("failed", gateway.refused_reason, 1)
    assert row.data_enc is None
    assert await pending_delays(clean_db) == []  # the event is done, not dead-lettered


async def test_a_timeout_is_retried_and_the_retry_is_sent(
    clean_db: Database, cache: Cache, fast: Settings, http_peer: RunningHttpPeer, gateway: Gateway
) -> None:
    section = gateway.section(http_peer.url)
    section["channels"][0]["options"]["timeout_seconds"] = 0.3
    tenant = await tenant_with(clean_db, section)
    http_peer.peer.replies.append(Reply(stall=True))
    message_id = await queue(clean_db, tenant, to=PHONE)

    await run_worker(clean_db, cache, fast)
    row = await row_of(clean_db, tenant, message_id)
    assert (row.status, row.reason) == ("queued", "timeout")

    http_peer.peer.release.set()
    await fast_forward(clean_db)
    await run_worker(clean_db, cache, fast)
    assert (await row_of(clean_db, tenant, message_id)).status == "sent"
    if gateway.idempotent:
        # The timed-out request may have reached the gateway: the retry says it is the same.
        assert set(keys_seen(http_peer.peer.requests)) == {str(message_id)}


async def test_429_waits_as_long_as_retry_after_says(
    clean_db: Database, cache: Cache, fast: Settings, http_peer: RunningHttpPeer, gateway: Gateway
) -> None:
    tenant = await tenant_with(clean_db, gateway.section(http_peer.url))
    http_peer.peer.replies.append(Reply(429, {}, headers={"Retry-After": "120"}))
    message_id = await queue(clean_db, tenant, to=PHONE)

    await run_worker(clean_db, cache, fast)
    row = await row_of(clean_db, tenant, message_id)
    assert (row.status, row.reason) == ("queued", "rate_limited")
    [delay] = await pending_delays(clean_db)
    assert 110 < delay <= 120  # the provider's delay, not the (tiny) backoff

    await fast_forward(clean_db)
    await run_worker(clean_db, cache, fast)
    assert (await row_of(clean_db, tenant, message_id)).status == "sent"


async def test_a_message_that_keeps_failing_fails_after_the_last_attempt(
    clean_db: Database, cache: Cache, fast: Settings, http_peer: RunningHttpPeer, gateway: Gateway
) -> None:
    tenant = await tenant_with(clean_db, gateway.section(http_peer.url))
    http_peer.peer.default = Reply(500, {})
    message_id = await queue(clean_db, tenant, to=PHONE)

    for _ in range(fast.outbox_max_attempts):
        await fast_forward(clean_db)
        await run_worker(clean_db, cache, fast)

    row = await row_of(clean_db, tenant, message_id)
    assert (row.status, row.reason, row.attempts) == ("failed", "http_500", 3)
    assert len(http_peer.peer.requests) == 3
    assert await pending_delays(clean_db) == []
