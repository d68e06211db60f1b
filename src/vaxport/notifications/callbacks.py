"""Provider delivery reports: authenticate, find the message, move it to delivered/failed.

The callback route is public (providers have no account here) and authenticated by the
provider's signature instead:

- Twilio: ``X-Twilio-Signature`` = base64(HMAC-SHA1(auth token, URL + every form field's
  name and value, sorted by name)), over the URL Twilio called: the channel's
  ``status_callback`` with our ``ref`` added (see ``TwilioChannel``);
- a generic gateway (``sms-http`` with ``delivery_callback``): a hex HMAC-SHA256 of the
  raw body (or ``"<timestamp>.<body>"``) under a shared secret, in a configured header.

Unsigned or badly signed reports are 401 and change nothing; a report about a message
we do not have is 404. Only ``sending``/``sent`` messages move; a late ``failed`` never
overrides ``delivered``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from prometheus_client import Counter
from sqlalchemy import select

from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.errors import NotFound, ServiceUnavailable, Unauthorized, ValidationFailed
from vaxport.core.logging import get_logger
from vaxport.notifications.channels.base import ChannelConfigError, read_secret
from vaxport.notifications.channels.http import json_path
from vaxport.notifications.models import DELIVERED, FAILED, SENDING, SENT, Message
from vaxport.settings import Settings
from vaxport.tenancy.service import (
    DeliveryCallbackOptions,
    SmsHttpChannelConfig,
    TwilioChannelConfig,
    get_tenant_or_404,
)

log = get_logger("vaxport.notifications")

REPORTS = Counter(
    "vaxport_notification_delivery_reports_total",
    "Provider delivery reports by channel type and outcome.",
    ["channel_type", "outcome"],
)
_TWILIO_FAILED = {"failed", "undelivered"}


@dataclass(frozen=True, slots=True)
class Report:
    """What a verified report says: which message, and delivered/failed (None: neither)."""

    reference: str | None
    provider_message_id: str | None
    outcome: str | None
    reason: str | None = None


def twilio_signature(token: str, url: str, params: list[tuple[str, str]]) -> str:
    """Twilio's request signature for a form POST to ``url``."""
    data = url + "".join(k + v for k, v in sorted(params))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _secret(env_name: str, option: str) -> str:
    try:
        return read_secret(env_name, option=option)
    except ChannelConfigError:
        # Our configuration, not the caller's fault; the provider retries later.
        log.error("notification.callback_secret_missing", option=option)
        raise ServiceUnavailable("delivery reports cannot be verified right now") from None


def _twilio_report(
    cfg: TwilioChannelConfig,
    headers: Mapping[str, str],
    body: bytes,
    *,
    public_url: str,
    path: str,
    query: str,
) -> Report:
    given = headers.get("x-twilio-signature")
    if not given:
        raise Unauthorized("unsigned delivery report")
    token = _secret(cfg.options.auth_token_env, "auth_token_env")
    if cfg.options.status_callback:
        base = cfg.options.status_callback.split("?", 1)[0]
    else:
        base = public_url.rstrip("/") + path
    url = f"{base}?{query}" if query else base
    try:
        params = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        raise Unauthorized("invalid delivery report signature") from None
    expected = twilio_signature(token, url, params)
    if not hmac.compare_digest(expected.encode(), given.encode("ascii", "replace")):
        raise Unauthorized("invalid delivery report signature")
    fields = dict(params)
    status = (fields.get("MessageStatus") or fields.get("SmsStatus") or "").lower()
    outcome = DELIVERED if status == "delivered" else FAILED if status in _TWILIO_FAILED else None
    code = fields.get("ErrorCode", "")
    reason = (f"twilio_{code}" if code.isdigit() else status) if outcome == FAILED else None
    ref = dict(urllib.parse.parse_qsl(query)).get("ref")
    return Report(ref, fields.get("MessageSid") or fields.get("SmsSid"), outcome, reason)


def _gateway_report(
    callback: DeliveryCallbackOptions, headers: Mapping[str, str], body: bytes
) -> Report:
    given = headers.get(callback.signature_header.lower(), "").strip()
    if not given:
        raise Unauthorized("unsigned delivery report")
    secret = _secret(callback.secret_env, "delivery_callback.secret_env")
    signed = body
    if callback.timestamp_header:
        stamp = headers.get(callback.timestamp_header.lower(), "")
        if not stamp.isdigit() or len(stamp) > 12:
            raise Unauthorized("invalid delivery report timestamp")
        if abs(time.time() - int(stamp)) > callback.tolerance_seconds:
            raise Unauthorized("stale delivery report")
        signed = stamp.encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    candidate = given.removeprefix("sha256=").lower()
    if not hmac.compare_digest(expected.encode(), candidate.encode("ascii", "replace")):
        raise Unauthorized("invalid delivery report signature")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ValidationFailed("the delivery report is not JSON") from None
    status = str(_at(document, callback.status_json_path) or "")
    outcome = (
        DELIVERED
        if status in callback.delivered_values
        else FAILED
        if status in callback.failed_values
        else None
    )
    error = _at(document, callback.error_json_path) if callback.error_json_path else None
    reason = None
    if outcome == FAILED:
        reason = f"gateway_{error}" if error is not None else "undelivered"
    return Report(
        _str_or_none(_at(document, callback.reference_json_path)),
        _str_or_none(_at(document, callback.message_id_json_path)),
        outcome,
        reason[:64] if reason else None,
    )


def _at(document: Any, path: str | None) -> Any:
    if not path:
        return None
    try:
        return json_path(document, path)
    except KeyError:
        return None


def _str_or_none(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)[:200]


async def record_delivery_report(
    *,
    db: Database,
    cache: Cache,
    settings: Settings,
    tenant: str,
    channel_name: str,
    headers: Mapping[str, str],
    body: bytes,
    path: str,
    query: str,
) -> None:
    """Verify a provider's delivery report and apply it to its message."""
    found = await get_tenant_or_404(db=db, cache=cache, code=tenant)
    cfg = found.config.notifications.channel(channel_name)
    if isinstance(cfg, TwilioChannelConfig):
        report = _twilio_report(
            cfg, headers, body, public_url=settings.public_url, path=path, query=query
        )
    elif isinstance(cfg, SmsHttpChannelConfig) and cfg.options.delivery_callback is not None:
        report = _gateway_report(cfg.options.delivery_callback, headers, body)
    else:
        raise NotFound("no delivery reports for this channel")
    async with db.transaction(tenant_id=found.id) as uow:
        query_ = select(Message).where(Message.tenant_id == found.id)
        ref = _uuid(report.reference)
        if ref is not None:
            query_ = query_.where(Message.id == ref, Message.channel == channel_name)
        elif report.provider_message_id:
            query_ = query_.where(
                Message.channel == channel_name,
                Message.provider_message_id == report.provider_message_id,
            )
        else:
            raise ValidationFailed("the delivery report names no message")
        if db.is_postgres:
            query_ = query_.with_for_update()
        msg = (await uow.session.execute(query_.limit(1))).scalar_one_or_none()
        if msg is None:
            raise NotFound("unknown message")
        outcome = report.outcome
        if outcome is not None and msg.status in (SENDING, SENT):
            now = utcnow()
            msg.status = outcome
            msg.status_reason = report.reason
            msg.updated_at = now
            if outcome == DELIVERED:
                msg.delivered_at = now
            if msg.provider_message_id is None:
                msg.provider_message_id = report.provider_message_id
            msg.data = None
        REPORTS.labels(cfg.type, outcome or "progress").inc()
        log.info(
            "notification.delivery_report",
            message_id=str(msg.id),
            channel=channel_name,
            outcome=outcome or "progress",
            status=msg.status,
        )


def _uuid(value: str | None) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
