"""The channel interface every delivery backend implements, and its message/result types.

A dispatcher renders a message, picks a channel for its kind and calls
``await channel.send(message)``. The result says whether the provider took the message
(with its id), whether trying again later may work (optionally after ``retry_after``
seconds the provider asked for), or whether it never will (with a reason code). Channels
never raise for delivery problems and never retry on their own: retries belong to the
dispatcher, which owns the attempt count and backoff.

No destination, subject or body ever reaches a log line: they are personal data (and
login codes are secrets). Logged: channel, outcome, reason, provider status, latency and
the provider's message id.
"""

from __future__ import annotations

import asyncio
import enum
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from prometheus_client import Counter, Histogram

from vaxport.core.logging import get_logger

log = get_logger("vaxport.notifications")

MessageKind = Literal["sms", "email", "webhook"]

SENDS = Counter(
    "vaxport_notification_sends_total",
    "Notification send attempts by channel type, outcome and reason.",
    ["channel_type", "outcome", "reason"],
)
SEND_LATENCY = Histogram(
    "vaxport_notification_send_seconds",
    "Time a channel took to answer one send, by channel type.",
    ["channel_type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

# Dedup keys travel in HTTP headers and Message-IDs: printable ASCII, no spaces.
_DEDUP_KEY = re.compile(r"^[!-~]{1,200}$")


class ChannelConfigError(ValueError):
    """A channel cannot be built from its configuration (bad option, missing secret)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingMessage:
    """One rendered message to one destination.

    ``dedup_key`` is stable across retries of the same logical message (e.g. the outbox
    event id plus the channel kind); channels hand it to providers that deduplicate.
    ``to`` is already normalised (E.164 for SMS, a checked address for e-mail); webhooks
    deliver to their subscription URL and carry ``to`` (if any) in the payload.
    """

    kind: MessageKind
    to: str
    dedup_key: str
    text: str
    subject: str | None = None
    html: str | None = None
    tenant: str = ""
    event: str = ""
    locale: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _DEDUP_KEY.match(self.dedup_key):
            raise ValueError("dedup_key must be 1-200 printable ASCII characters, no spaces")
        if self.kind == "email" and not self.subject:
            raise ValueError("an e-mail needs a subject")
        if self.kind != "webhook" and not self.to:
            raise ValueError("a message needs a destination")

    def __repr__(self) -> str:
        # Keeps destinations and bodies out of tracebacks, debuggers and f-strings.
        return (
            f"OutgoingMessage(kind={self.kind!r}, tenant={self.tenant!r}, "
            f"event={self.event!r}, dedup_key={self.dedup_key!r}, to=<redacted>)"
        )

    __str__ = __repr__


class Outcome(enum.StrEnum):
    SENT = "sent"
    TRANSIENT = "transient"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True, kw_only=True)
class SendResult:
    """What happened to one send.

    - ``SENT``: the provider accepted it; ``provider_message_id`` identifies it there.
    - ``TRANSIENT``: try again later; ``retry_after`` (seconds) when the provider said so
      (429/503 ``Retry-After``). The provider may have received it (timeouts after the
      request left): the stable ``dedup_key`` is what makes the retry safe.
    - ``PERMANENT``: it will never work as is (bad destination, rejected content).

    ``reason`` is a stable, low-cardinality code (``timeout``, ``rate_limited``,
    ``http_503``, ``smtp_550``, ``twilio_21211``...); ``provider_status`` is the raw
    protocol status (HTTP or SMTP code) when there was one.
    """

    outcome: Outcome
    reason: str
    provider_message_id: str | None = None
    retry_after: float | None = None
    provider_status: str | None = None

    @classmethod
    def sent(
        cls, provider_message_id: str | None, *, provider_status: str | None = None
    ) -> SendResult:
        return cls(
            outcome=Outcome.SENT,
            reason="ok",
            provider_message_id=provider_message_id,
            provider_status=provider_status,
        )

    @classmethod
    def transient(
        cls,
        reason: str,
        *,
        retry_after: float | None = None,
        provider_status: str | None = None,
    ) -> SendResult:
        return cls(
            outcome=Outcome.TRANSIENT,
            reason=reason,
            retry_after=retry_after,
            provider_status=provider_status,
        )

    @classmethod
    def permanent(cls, reason: str, *, provider_status: str | None = None) -> SendResult:
        return cls(outcome=Outcome.PERMANENT, reason=reason, provider_status=provider_status)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.SENT

    @property
    def retryable(self) -> bool:
        return self.outcome is Outcome.TRANSIENT


class Channel(ABC):
    """A configured delivery backend. Subclasses implement :meth:`_send`.

    Instances are long-lived and safe to share between concurrent tasks of one event
    loop; they hold pooled connections, released by :meth:`aclose`.
    """

    type: ClassVar[str]
    kinds: ClassVar[frozenset[MessageKind]]

    def __init__(self, name: str) -> None:
        self.name = name

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Deliver one message; never raises for delivery problems."""
        started = time.perf_counter()
        if message.kind not in self.kinds:
            result = SendResult.permanent("unsupported_kind")
        else:
            try:
                result = await self._send(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a send reports failures, never raises
                # The exception text may quote the destination: log only its type.
                log.error(
                    "notification.channel_error",
                    channel=self.name,
                    channel_type=self.type,
                    error_type=type(exc).__name__,
                )
                result = SendResult.transient("internal_error")
        elapsed = time.perf_counter() - started
        SENDS.labels(self.type, result.outcome.value, result.reason).inc()
        SEND_LATENCY.labels(self.type).observe(elapsed)
        log.info(
            "notification.send",
            channel=self.name,
            channel_type=self.type,
            kind=message.kind,
            event_type=message.event,
            outcome=result.outcome.value,
            reason=result.reason,
            provider_status=result.provider_status,
            provider_message_id=result.provider_message_id,
            retry_after=result.retry_after,
            latency_ms=round(elapsed * 1000, 2),
        )
        return result

    @abstractmethod
    async def _send(self, message: OutgoingMessage) -> SendResult:
        """Deliver one message of a supported kind."""

    async def aclose(self) -> None:
        """Release pooled connections."""
        return


def read_secret(env_name: str, *, option: str) -> str:
    """The secret held by environment variable ``env_name``; refuses a missing/empty one."""
    import os

    value = os.environ.get(env_name, "")
    if not value:
        raise ChannelConfigError(f"{option}: environment variable {env_name} is not set")
    return value
