"""HTTP plumbing shared by the HTTP channels: one connection pool, status classification.

All HTTP channels of a process share one :class:`httpx.AsyncClient` (keep-alive
connections per host), each request carrying its channel's own timeouts. Redirects are
not followed: a provider that redirects is misconfigured, and following would resend
credentials to another place.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Mapping

import httpx

from vaxport.core.clock import utcnow
from vaxport.notifications.channels.base import SendResult

_MAX_RETRY_AFTER = 24 * 3600.0


class HttpPool:
    """The process's shared HTTP client for providers (created on first use)."""

    def __init__(
        self, *, max_connections: int = 100, max_keepalive: int = 20, trust_env: bool = True
    ) -> None:
        # trust_env: honour HTTPS_PROXY / NO_PROXY, as egress often goes through a proxy.
        self._trust_env = trust_env
        self._limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive,
            keepalive_expiry=30,
        )
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                limits=self._limits,
                follow_redirects=False,
                timeout=httpx.Timeout(10, connect=5),
                headers={"User-Agent": "vaxport-notifications"},
                trust_env=self._trust_env,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def timeout(total: float, connect: float) -> httpx.Timeout:
    """Per-request timeouts: connect bounded separately, each read/write by ``total``."""
    return httpx.Timeout(total, connect=min(connect, total), pool=total)


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), _MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    seconds = (when - (now or utcnow())).total_seconds()
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


def failure_for_status(
    status: int, headers: Mapping[str, str], *, reason: str | None = None
) -> SendResult:
    """The result of a non-success HTTP answer.

    429/408/425 and 5xx are transient (with ``Retry-After`` when given); 401/403 are
    transient too: they mean our credentials are wrong or being rotated, which an
    operator fixes, and the message itself is fine. Other 4xx are permanent.
    """
    code = str(status)
    retry_after = parse_retry_after(headers.get("retry-after"))
    if status == 429:
        return SendResult.transient("rate_limited", retry_after=retry_after, provider_status=code)
    if status in (408, 425) or status >= 500:
        return SendResult.transient(
            reason or f"http_{status}", retry_after=retry_after, provider_status=code
        )
    if status in (401, 403):
        return SendResult.transient("auth_failed", provider_status=code)
    return SendResult.permanent(reason or f"http_{status}", provider_status=code)


def failure_for_exception(exc: httpx.HTTPError) -> SendResult:
    """The result of a request that got no HTTP answer."""
    if isinstance(exc, httpx.TimeoutException):
        return SendResult.transient("timeout")
    if isinstance(exc, httpx.ConnectError):
        return SendResult.transient("connection_failed")
    if isinstance(exc, httpx.RemoteProtocolError):
        return SendResult.transient("protocol_error")
    return SendResult.transient("transport_error")


def json_path(document: object, path: str) -> object:
    """The value at a dotted path (``messages.0.id``); raises KeyError when absent."""
    node = document
    for part in path.split("."):
        if isinstance(node, list) and part.lstrip("-").isdigit():
            try:
                node = node[int(part)]
            except IndexError:
                raise KeyError(path) from None
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(path)
    return node
