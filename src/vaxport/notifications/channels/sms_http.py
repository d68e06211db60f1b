"""SMS over HTTP: a configurable generic gateway adapter and a Twilio-compatible one."""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx

from vaxport.notifications.channels.base import (
    Channel,
    OutgoingMessage,
    SendResult,
    read_secret,
)
from vaxport.notifications.channels.http import (
    HttpPool,
    failure_for_exception,
    failure_for_status,
    json_path,
    timeout,
)
from vaxport.tenancy.service import HttpAuth, SmsHttpOptions, TwilioOptions

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _fill(template: Any, values: dict[str, str]) -> Any:
    """The body template with ``{name}`` placeholders replaced (names checked at load)."""
    if isinstance(template, str):
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template


def auth_headers(auth: HttpAuth | None, *, option: str) -> dict[str, str]:
    """Request headers carrying the configured credentials (read from the environment)."""
    if auth is None:
        return {}
    if auth.type == "basic":
        assert auth.username is not None
        assert auth.password_env is not None
        password = read_secret(auth.password_env, option=f"{option}.password_env")
        pair = base64.b64encode(f"{auth.username}:{password}".encode()).decode("ascii")
        return {"Authorization": f"Basic {pair}"}
    assert auth.token_env is not None
    token = read_secret(auth.token_env, option=f"{option}.token_env")
    if auth.type == "bearer":
        return {"Authorization": f"Bearer {token}"}
    return {auth.header: token}


class HttpSmsChannel(Channel):
    """A generic SMS gateway: URL, method, body template, success criteria from options."""

    type = "sms-http"
    kinds = frozenset({"sms"})

    def __init__(self, name: str, options: SmsHttpOptions, *, pool: HttpPool) -> None:
        super().__init__(name)
        self.options = options
        self._pool = pool
        self._headers = {**options.headers, **auth_headers(options.auth, option="auth")}
        self._timeout = timeout(options.timeout_seconds, options.connect_timeout_seconds)

    async def _send(self, message: OutgoingMessage) -> SendResult:
        o = self.options
        values = {
            "to": message.to,
            "text": message.text,
            "sender": o.sender or "",
            "dedup_key": message.dedup_key,
            "tenant": message.tenant,
            "event": message.event,
            "locale": message.locale,
        }
        body = _fill(o.body, values)
        headers = dict(self._headers)
        if o.idempotency_header:
            headers[o.idempotency_header] = message.dedup_key
        kwargs: dict[str, Any] = {"json": body} if o.body_format == "json" else {}
        if o.body_format == "form":
            kwargs["data"] = body
        elif o.body_format == "query":
            kwargs["params"] = body
        try:
            resp = await self._pool.client.request(
                o.method, o.url, headers=headers, timeout=self._timeout, **kwargs
            )
        except httpx.HTTPError as exc:
            return failure_for_exception(exc)
        if resp.status_code not in o.success_status:
            return failure_for_status(resp.status_code, resp.headers)
        return self._interpret_success(resp)

    def _interpret_success(self, resp: httpx.Response) -> SendResult:
        """Apply the JSON success check and extract the gateway's message id."""
        o = self.options
        status = str(resp.status_code)
        document: Any = None
        if o.success_json_path or o.message_id_json_path:
            try:
                document = resp.json()
            except ValueError:
                # A success status with an unreadable body is usually a proxy's page.
                return SendResult.transient("unexpected_response", provider_status=status)
        if o.success_json_path:
            try:
                value = json_path(document, o.success_json_path)
            except KeyError:
                value = None
            if value is None or value not in o.success_json_values:
                return SendResult.permanent("gateway_rejected", provider_status=status)
        message_id: str | None = None
        if o.message_id_header:
            message_id = resp.headers.get(o.message_id_header)
        if message_id is None and o.message_id_json_path:
            try:
                message_id = str(json_path(document, o.message_id_json_path))
            except KeyError:
                message_id = None
        return SendResult.sent(message_id, provider_status=status)


def with_reference(url: str, reference: str) -> str:
    """``url`` with ``ref=<reference>`` added to its query."""
    parsed = httpx.URL(url)
    return str(parsed.copy_merge_params({"ref": reference}))


class TwilioChannel(Channel):
    """Twilio's Messages API (and compatible ones): form POST with HTTP basic auth.

    Twilio offers no idempotency key for message creation; a retry after a timeout can
    duplicate an SMS. The dispatcher's dedup key still protects against re-dispatch.
    """

    type = "twilio"
    kinds = frozenset({"sms"})

    def __init__(self, name: str, options: TwilioOptions, *, pool: HttpPool) -> None:
        super().__init__(name)
        self.options = options
        self._pool = pool
        token = read_secret(options.auth_token_env, option="auth_token_env")
        self._auth = httpx.BasicAuth(options.account_sid, token)
        base = options.url.rstrip("/")
        self._url = f"{base}/2010-04-01/Accounts/{options.account_sid}/Messages.json"
        self._timeout = timeout(options.timeout_seconds, options.connect_timeout_seconds)

    async def _send(self, message: OutgoingMessage) -> SendResult:
        o = self.options
        form = {"To": message.to, "Body": message.text}
        if o.messaging_service_sid:
            form["MessagingServiceSid"] = o.messaging_service_sid
        else:
            assert o.sender is not None
            form["From"] = o.sender
        if o.status_callback:
            # Our reference rides along, so a report that arrives before the send is
            # recorded (Twilio answers fast) still finds its message.
            form["StatusCallback"] = with_reference(o.status_callback, message.dedup_key)
        try:
            resp = await self._pool.client.post(
                self._url,
                data=form,
                auth=self._auth,
                headers=dict(o.headers),
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            return failure_for_exception(exc)
        status = str(resp.status_code)
        try:
            document = resp.json()
        except ValueError:
            document = None
        if not 200 <= resp.status_code < 300:
            code = document.get("code") if isinstance(document, dict) else None
            reason = f"twilio_{code}" if isinstance(code, int) else None
            return failure_for_status(resp.status_code, resp.headers, reason=reason)
        sid = document.get("sid") if isinstance(document, dict) else None
        if not isinstance(sid, str):
            return SendResult.transient("unexpected_response", provider_status=status)
        return SendResult.sent(sid, provider_status=status)
