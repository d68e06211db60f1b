"""Channel configuration: one entry per channel, by name, type and type-specific options.

Secrets never appear in the file: options name the environment variable that holds
them (``password_env``, ``token_env``...), and literal ``password``/``token``/``secret``
keys are refused with a message saying what to write instead.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from vaxport.core.destinations import parse_sender

EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]{0,127}$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,62}$")]

# Keys that would put a secret in the file; each has an ``*_env`` counterpart.
_SECRET_KEYS = frozenset(
    {"password", "token", "secret", "api_key", "auth_token", "access_key", "secret_access_key"}
)
# Placeholders a generic SMS gateway body may use.
SMS_PLACEHOLDERS = frozenset({"to", "text", "sender", "dedup_key", "tenant", "event", "locale"})
# Any brace group counts, so that '{text.upper}' is refused rather than sent verbatim.
_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_http_url(url: str, *, allow_insecure_http: bool) -> str:
    """An absolute http(s) URL; plain http only to loopback unless explicitly allowed."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError("not a valid URL") from exc
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        raise ValueError("must be an absolute http(s) URL")
    if parsed.userinfo:
        raise ValueError("credentials must not be written in the URL; use the auth options")
    if parsed.scheme == "http" and not allow_insecure_http and not _is_loopback(parsed.host):
        raise ValueError("must use https (set allow_insecure_http to accept plain http)")
    return url


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _refuse_literal_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if str(key).lower() in _SECRET_KEYS:
                    raise ValueError(
                        f"'{key}' would put a secret in the configuration file; "
                        f"set '{key}_env' to the name of an environment variable instead"
                    )
        return data


class SmtpOptions(_Options):
    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["starttls", "tls", "plain"] = "starttls"
    username: str | None = None
    password_env: EnvName | None = None
    sender: str = Field(min_length=3, description="From: header, e.g. 'Vaxport <no-reply@x.org>'")
    reply_to: str | None = None
    timeout_seconds: float = Field(default=10, gt=0, le=120)
    validate_certs: bool = True
    ca_file: str | None = None
    local_hostname: str | None = None
    max_connections: int = Field(default=4, ge=1, le=64)
    idle_seconds: float = Field(default=30, ge=0, le=3600)

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return {"starttls": 587, "tls": 465, "plain": 25}[self.security]

    @model_validator(mode="after")
    def _auth_rules(self) -> SmtpOptions:
        if (self.username is None) != (self.password_env is None):
            raise ValueError("username and password_env go together")
        if self.username and self.security == "plain" and not _is_loopback(self.host):
            raise ValueError("security 'plain' would send the password in clear; use starttls/tls")
        parse_sender(self.sender)
        if self.reply_to is not None:
            parse_sender(self.reply_to)
        return self


class HttpAuth(_Options):
    type: Literal["bearer", "basic", "header"]
    token_env: EnvName | None = None
    username: str | None = None
    password_env: EnvName | None = None
    header: str = "Authorization"

    @model_validator(mode="after")
    def _complete(self) -> HttpAuth:
        if self.type == "basic" and not (self.username and self.password_env):
            raise ValueError("basic auth needs username and password_env")
        if self.type in {"bearer", "header"} and not self.token_env:
            raise ValueError(f"{self.type} auth needs token_env")
        return self


class _HttpOptions(_Options):
    url: str
    allow_insecure_http: bool = False
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=10, gt=0, le=120)
    connect_timeout_seconds: float = Field(default=5, gt=0, le=60)

    @model_validator(mode="after")
    def _url(self) -> _HttpOptions:
        check_http_url(self.url, allow_insecure_http=self.allow_insecure_http)
        for name in self.headers:
            if name.lower() in {"authorization", "cookie", "proxy-authorization"}:
                raise ValueError(f"header '{name}' carries a secret; use the auth options")
        return self


def _placeholders(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(_PLACEHOLDER_RE.findall(value))
    if isinstance(value, dict):
        return set().union(*(_placeholders(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_placeholders(v) for v in value))
    return set()


class DeliveryCallbackOptions(_Options):
    """How a generic gateway reports delivery to ``/api/v1/{tenant}/notifications/
    callbacks/{channel}``: a JSON body signed with a shared secret.

    The signature header carries the hex HMAC-SHA256 of the raw body (``sha256=`` prefix
    allowed), or of ``"<timestamp>.<body>"`` when ``timestamp_header`` is set, in which
    case reports older or newer than ``tolerance_seconds`` are refused (no replays).
    """

    secret_env: EnvName
    signature_header: str = "X-Signature"
    timestamp_header: str | None = None
    tolerance_seconds: int = Field(default=300, ge=10, le=86_400)
    # Where the report names the message: the gateway's id (as the send response gave
    # it), or our reference echoed back (the {dedup_key} placeholder of the send body).
    message_id_json_path: str | None = "id"
    reference_json_path: str | None = None
    status_json_path: str = "status"
    delivered_values: list[str] = Field(default_factory=lambda: ["delivered"], min_length=1)
    failed_values: list[str] = Field(
        default_factory=lambda: ["failed", "undelivered", "rejected", "expired"], min_length=1
    )
    error_json_path: str | None = None

    @model_validator(mode="after")
    def _names_a_message(self) -> DeliveryCallbackOptions:
        if not (self.message_id_json_path or self.reference_json_path):
            raise ValueError("set message_id_json_path or reference_json_path (or both)")
        return self


class SmsHttpOptions(_HttpOptions):
    method: Literal["POST", "PUT", "GET"] = "POST"
    body_format: Literal["json", "form", "query"] = "json"
    body: dict[str, Any] = Field(min_length=1)
    auth: HttpAuth | None = None
    sender: str | None = None
    idempotency_header: str | None = "Idempotency-Key"
    success_status: list[int] = Field(default_factory=lambda: [200, 201, 202], min_length=1)
    success_json_path: str | None = None
    success_json_values: list[Any] = Field(default_factory=list)
    message_id_json_path: str | None = None
    message_id_header: str | None = None
    delivery_callback: DeliveryCallbackOptions | None = None

    @model_validator(mode="after")
    def _body(self) -> SmsHttpOptions:
        unknown = _placeholders(self.body) - SMS_PLACEHOLDERS
        if unknown:
            raise ValueError(
                f"unknown placeholder(s) {sorted(unknown)} in body; "
                f"allowed: {sorted(SMS_PLACEHOLDERS)}"
            )
        if not {"to", "text"} <= _placeholders(self.body):
            raise ValueError("body must use the {to} and {text} placeholders")
        if self.method == "GET" and self.body_format != "query":
            raise ValueError("GET sends its fields in the query: set body_format 'query'")
        if self.body_format != "json" and any(
            isinstance(v, dict | list) for v in self.body.values()
        ):
            raise ValueError(f"a {self.body_format} body must be flat (no nested objects)")
        if bool(self.success_json_path) != bool(self.success_json_values):
            raise ValueError("success_json_path and success_json_values go together")
        if any(not 100 <= s <= 599 for s in self.success_status):
            raise ValueError("success_status must be HTTP status codes")
        return self


class TwilioOptions(_HttpOptions):
    url: str = "https://api.twilio.com"
    account_sid: Annotated[str, StringConstraints(pattern=r"^AC[0-9a-fA-F]{32}$")]
    auth_token_env: EnvName
    sender: str | None = None
    messaging_service_sid: str | None = None
    # Where Twilio reports delivery: this tenant's
    # https://<public host>/api/v1/<tenant>/notifications/callbacks/<channel name>
    status_callback: str | None = None

    @model_validator(mode="after")
    def _from(self) -> TwilioOptions:
        if (self.sender is None) == (self.messaging_service_sid is None):
            raise ValueError("set exactly one of sender and messaging_service_sid")
        if self.status_callback is not None:
            check_http_url(self.status_callback, allow_insecure_http=self.allow_insecure_http)
        return self


class WebhookOptions(_HttpOptions):
    secret_env: EnvName
    previous_secret_env: EnvName | None = None
    events: list[str] = Field(default_factory=list, description="empty: every event")


class SnsOptions(_Options):
    region: str = Field(min_length=1)
    endpoint_url: str | None = None
    access_key_id_env: EnvName | None = None
    secret_access_key_env: EnvName | None = None
    sms_type: Literal["Transactional", "Promotional"] = "Transactional"
    sender_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,11}$")] | None = None
    origination_number: str | None = None
    timeout_seconds: float = Field(default=10, gt=0, le=120)

    @model_validator(mode="after")
    def _keys(self) -> SnsOptions:
        if (self.access_key_id_env is None) != (self.secret_access_key_env is None):
            raise ValueError("access_key_id_env and secret_access_key_env go together")
        if self.endpoint_url is not None:
            check_http_url(self.endpoint_url, allow_insecure_http=False)
        return self


class ConsoleOptions(_Options):
    banner: bool = True


class _ChannelBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Slug


class SmtpChannelConfig(_ChannelBase):
    type: Literal["smtp"]
    options: SmtpOptions


class SmsHttpChannelConfig(_ChannelBase):
    type: Literal["sms-http"]
    options: SmsHttpOptions


class TwilioChannelConfig(_ChannelBase):
    type: Literal["twilio"]
    options: TwilioOptions


class WebhookChannelConfig(_ChannelBase):
    type: Literal["webhook"]
    options: WebhookOptions


class SnsChannelConfig(_ChannelBase):
    type: Literal["aws-sns"]
    options: SnsOptions


class ConsoleChannelConfig(_ChannelBase):
    type: Literal["console"]
    options: ConsoleOptions = ConsoleOptions()


ChannelConfig = Annotated[
    SmtpChannelConfig
    | SmsHttpChannelConfig
    | TwilioChannelConfig
    | WebhookChannelConfig
    | SnsChannelConfig
    | ConsoleChannelConfig,
    Field(discriminator="type"),
]
CHANNEL_TYPES = ("smtp", "sms-http", "twilio", "webhook", "aws-sns", "console")
# Which message kinds each channel type carries (routes are checked against it).
CHANNEL_KINDS: dict[str, frozenset[str]] = {
    "smtp": frozenset({"email"}),
    "sms-http": frozenset({"sms"}),
    "twilio": frozenset({"sms"}),
    "webhook": frozenset({"webhook"}),
    "aws-sns": frozenset({"sms"}),
    "console": frozenset({"sms", "email"}),
}
BUILTIN_CONSOLE = "console"
