"""Signed webhooks: delivery to a loopback receiver that verifies, and verify_webhook."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from tests.notifications.peers import Recorded, Reply, RunningHttpPeer
from vaxport.notifications.channels.base import Outcome, OutgoingMessage
from vaxport.notifications.channels.http import HttpPool
from vaxport.notifications.channels.webhook import (
    WebhookChannel,
    WebhookSignatureError,
    sign_webhook,
    verify_webhook,
)
from vaxport.tenancy.notifications_config import WebhookOptions

SECRET = "whsec-current-0123456789"
OLD_SECRET = "whsec-previous-9876543210"


def hook_message(key: str = "evt-9") -> OutgoingMessage:
    return OutgoingMessage(
        kind="webhook",
        to="",
        dedup_key=key,
        text="",
        tenant="demo",
        event="test_message",
        data={"appointment": "A-1", "n": 3},
    )


def channel(peer: RunningHttpPeer, pool: HttpPool, **extra: Any) -> WebhookChannel:
    data: dict[str, Any] = {"url": f"{peer.url}/hook", "secret_env": "TEST_HOOK_SECRET"}
    data.update(extra)
    return WebhookChannel("hook", WebhookOptions.model_validate(data), pool=pool)


def receiver(secret: str, *, now: float | None = None):  # type: ignore[no-untyped-def]
    """A receiver that verifies each delivery the way a subscriber would."""

    async def inspect(req: Recorded) -> Reply | None:
        try:
            verify_webhook(
                secret,
                req.headers.get("x-vaxport-timestamp", ""),
                req.body,
                req.headers.get("x-vaxport-signature", ""),
                now=now,
            )
        except WebhookSignatureError as exc:
            return Reply(401, {"error": exc.reason})
        return Reply(204, raw=b"")

    return inspect


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_HOOK_SECRET", SECRET)
    monkeypatch.setenv("TEST_HOOK_OLD_SECRET", OLD_SECRET)


async def test_delivery_is_signed_and_accepted_by_a_verifying_receiver(
    http_peer: RunningHttpPeer, pool: HttpPool
) -> None:
    http_peer.peer.inspector = receiver(SECRET)
    result = await channel(http_peer, pool).send(hook_message())
    assert result.outcome is Outcome.SENT
    assert result.provider_message_id == "evt-9"
    [req] = http_peer.peer.requests
    assert req.headers["content-type"] == "application/json"
    assert req.headers["idempotency-key"] == "evt-9"
    assert req.headers["x-vaxport-signature"].startswith("v1=")
    body = orjson.loads(req.body)
    assert body["id"] == "evt-9"
    assert body["event"] == "test_message"
    assert body["tenant"] == "demo"
    assert body["data"] == {"appointment": "A-1", "n": 3}
    assert "message" not in body


async def test_a_receiver_with_another_secret_rejects_and_the_send_is_transient(
    http_peer: RunningHttpPeer, pool: HttpPool
) -> None:
    http_peer.peer.inspector = receiver("someone-else's-secret")
    result = await channel(http_peer, pool).send(hook_message())
    assert result.outcome is Outcome.TRANSIENT
    assert result.reason == "auth_failed"


async def test_a_receiver_whose_clock_is_far_ahead_rejects_the_old_timestamp(
    http_peer: RunningHttpPeer, pool: HttpPool
) -> None:
    http_peer.peer.inspector = receiver(SECRET, now=time.time() + 3600)
    result = await channel(http_peer, pool).send(hook_message())
    assert result.reason == "auth_failed"


async def test_during_rotation_both_secrets_sign(
    http_peer: RunningHttpPeer, pool: HttpPool
) -> None:
    http_peer.peer.inspector = receiver(OLD_SECRET)
    ch = channel(http_peer, pool, previous_secret_env="TEST_HOOK_OLD_SECRET")
    assert (await ch.send(hook_message())).ok
    [req] = http_peer.peer.requests
    assert req.headers["x-vaxport-signature"].count("v1=") == 2


async def test_gone_subscription_is_permanent(http_peer: RunningHttpPeer, pool: HttpPool) -> None:
    http_peer.peer.replies.append(Reply(410, {}))
    result = await channel(http_peer, pool).send(hook_message())
    assert (result.outcome, result.reason) == (Outcome.PERMANENT, "http_410")


def _signed(body: bytes, ts: int, secret: str = SECRET) -> str:
    return f"v1={sign_webhook(secret, ts, body)}"


def test_verify_accepts_a_fresh_valid_signature() -> None:
    body = b'{"id":"x"}'
    verify_webhook(SECRET, "1700000000", body, _signed(body, 1700000000), now=1700000100)


@pytest.mark.parametrize(
    ("timestamp", "body", "signature", "reason"),
    [
        ("1700000000", b'{"id":"y"}', None, "signature_mismatch"),
        ("1699999000", b'{"id":"x"}', "old", "timestamp_outside_tolerance"),
        ("1700001000", b'{"id":"x"}', "future", "timestamp_outside_tolerance"),
        ("17e8", b'{"id":"x"}', None, "malformed_timestamp"),
        ("", b'{"id":"x"}', None, "malformed_timestamp"),
        ("1700000000", b'{"id":"x"}', "", "malformed_signature"),
        ("1700000000", b'{"id":"x"}', "v0=abcd", "malformed_signature"),
        ("1700000000", b'{"id":"x"}', "v1=zz\u00e9", "signature_mismatch"),
    ],
)
def test_verify_refuses(timestamp: str, body: bytes, signature: str | None, reason: str) -> None:
    original = b'{"id":"x"}'
    if signature is None:
        signature = _signed(original, 1700000000)
    elif signature in {"old", "future"}:
        signature = _signed(body, int(timestamp))
    with pytest.raises(WebhookSignatureError) as info:
        verify_webhook(SECRET, timestamp, body, signature, now=1700000000)
    assert info.value.reason == reason


def test_verify_accepts_any_of_several_signatures() -> None:
    body = b"{}"
    header = f"v1={'0' * 64}, {_signed(body, 1700000000)}"
    verify_webhook(SECRET, "1700000000", body, header, now=1700000000)
