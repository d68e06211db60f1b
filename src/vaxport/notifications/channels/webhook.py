"""Signed webhooks: a JSON POST that the receiver can authenticate.

Each subscription has its own secret. A delivery carries
``X-Vaxport-Timestamp: <unix seconds>`` and
``X-Vaxport-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>``; while a
secret is being rotated, one ``v1=`` entry per secret, comma-separated. Receivers call
:func:`verify_webhook` on the raw body before parsing it, and keep the delivery ``id``
of recent deliveries to drop replays inside the tolerance window (deliveries are
at-least-once: the same ``id`` may legitimately arrive twice).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from typing import Any

import httpx
import orjson

from vaxport.core.clock import utcnow
from vaxport.notifications.channels.base import Channel, OutgoingMessage, SendResult, read_secret
from vaxport.notifications.channels.http import (
    HttpPool,
    failure_for_exception,
    failure_for_status,
    timeout,
)
from vaxport.tenancy.service import WebhookOptions

TIMESTAMP_HEADER = "X-Vaxport-Timestamp"
SIGNATURE_HEADER = "X-Vaxport-Signature"
_SCHEME = "v1"


class WebhookSignatureError(ValueError):
    """A webhook delivery failed verification; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def sign_webhook(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"``."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(_as_bytes(secret), signed, hashlib.sha256).hexdigest()


def verify_webhook(
    secret: str | bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance_seconds: int = 300,
    now: float | dt.datetime | None = None,
) -> None:
    """Check a delivery's signature and freshness; raise :class:`WebhookSignatureError`.

    ``timestamp`` and ``signature`` are the raw header values, ``body`` the raw bytes.
    Deliveries whose timestamp is more than ``tolerance_seconds`` away from ``now`` (in
    either direction) are refused, so a captured request cannot be replayed later.
    """
    if not timestamp or not timestamp.isdigit() or len(timestamp) > 12:
        raise WebhookSignatureError("malformed_timestamp")
    if now is None:
        current = time.time()
    elif isinstance(now, dt.datetime):
        current = now.timestamp()
    else:
        current = float(now)
    if abs(current - int(timestamp)) > tolerance_seconds:
        raise WebhookSignatureError("timestamp_outside_tolerance")
    candidates = []
    for item in (signature or "").split(","):
        scheme, sep, value = item.strip().partition("=")
        if sep and scheme == _SCHEME and value:
            candidates.append(value)
    if not candidates:
        raise WebhookSignatureError("malformed_signature")
    expected = sign_webhook(secret, int(timestamp), body).encode("ascii")
    matched = False
    for candidate in candidates:
        # Check every entry, so timing does not reveal which one matched.
        matched |= hmac.compare_digest(expected, candidate.encode("ascii", "replace"))
    if not matched:
        raise WebhookSignatureError("signature_mismatch")


def webhook_body(message: OutgoingMessage, *, at: dt.datetime | None = None) -> bytes:
    """The JSON document a subscription receives for ``message``."""
    doc: dict[str, Any] = {
        "id": message.dedup_key,
        "event": message.event,
        "tenant": message.tenant,
        "sent_at": (at or utcnow()).isoformat(),
        "data": dict(message.data),
    }
    if message.to:
        doc["message"] = {
            "to": message.to,
            "locale": message.locale,
            "subject": message.subject,
            "text": message.text,
        }
    return orjson.dumps(doc)


class WebhookChannel(Channel):
    """POSTs signed JSON to one subscription URL."""

    type = "webhook"
    kinds = frozenset({"webhook"})

    def __init__(self, name: str, options: WebhookOptions, *, pool: HttpPool) -> None:
        super().__init__(name)
        self.options = options
        self._pool = pool
        self._secrets = [read_secret(options.secret_env, option="secret_env")]
        if options.previous_secret_env:
            self._secrets.append(
                read_secret(options.previous_secret_env, option="previous_secret_env")
            )
        self._timeout = timeout(options.timeout_seconds, options.connect_timeout_seconds)

    async def _send(self, message: OutgoingMessage) -> SendResult:
        ts = int(time.time())
        body = webhook_body(message, at=dt.datetime.fromtimestamp(ts, dt.UTC))
        signature = ",".join(f"{_SCHEME}={sign_webhook(s, ts, body)}" for s in self._secrets)
        headers = {
            **self.options.headers,
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(ts),
            SIGNATURE_HEADER: signature,
            "Idempotency-Key": message.dedup_key,
        }
        try:
            resp = await self._pool.client.post(
                self.options.url, content=body, headers=headers, timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            return failure_for_exception(exc)
        if not 200 <= resp.status_code < 300:
            return failure_for_status(resp.status_code, resp.headers)
        # Receivers rarely have their own id for a delivery; ours is the dedup key.
        return SendResult.sent(message.dedup_key, provider_status=str(resp.status_code))
