"""The ``notifications:`` section of a country file, as a pydantic model.

Channels (see :mod:`.notifications_channels`), which channel carries each message kind,
template overrides, quiet hours and per-recipient caps. The schema is part of the
country configuration, which tenancy owns; notifications reads it (tenancy sits below
notifications and never imports it).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

# Re-exported: callers import every piece of the section from here.
from vaxport.tenancy.notifications_channels import (
    BUILTIN_CONSOLE,
    CHANNEL_KINDS,
    CHANNEL_TYPES,
    SMS_PLACEHOLDERS,
    ChannelConfig,
    ConsoleChannelConfig,
    ConsoleOptions,
    DeliveryCallbackOptions,
    HttpAuth,
    SmsHttpChannelConfig,
    SmsHttpOptions,
    SmtpChannelConfig,
    SmtpOptions,
    SnsChannelConfig,
    SnsOptions,
    TwilioChannelConfig,
    TwilioOptions,
    WebhookChannelConfig,
    WebhookOptions,
    check_http_url,
)

__all__ = [
    "BUILTIN_CONSOLE",
    "CHANNEL_KINDS",
    "CHANNEL_TYPES",
    "SMS_PLACEHOLDERS",
    "ChannelConfig",
    "ConsoleChannelConfig",
    "ConsoleOptions",
    "DeliveryCallbackOptions",
    "EmailTemplate",
    "HttpAuth",
    "LocaleTemplates",
    "NotificationsConfig",
    "QuietHours",
    "RecipientCaps",
    "SmsHttpChannelConfig",
    "SmsHttpOptions",
    "SmtpChannelConfig",
    "SmtpOptions",
    "SnsChannelConfig",
    "SnsOptions",
    "TwilioChannelConfig",
    "TwilioOptions",
    "WebhookChannelConfig",
    "WebhookOptions",
    "check_http_url",
]

LOCALE_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
TEMPLATE_MAX_CHARS = 20_000

TemplateSource = Annotated[str, StringConstraints(min_length=1, max_length=TEMPLATE_MAX_CHARS)]


class EmailTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    subject: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    text: TemplateSource
    html: TemplateSource | None = None


class LocaleTemplates(BaseModel):
    """The templates of one event in one locale, per channel kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sms: TemplateSource | None = None
    email: EmailTemplate | None = None


class QuietHours(BaseModel):
    """A nightly window in which non-urgent messages wait (wraps past midnight)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    start: dt.time
    end: dt.time
    timezone: str | None = Field(default=None, description="default: the tenant's time zone")
    exempt_events: list[str] = Field(default_factory=lambda: ["login_code", "test_message"])

    @model_validator(mode="after")
    def _window(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        if self.timezone is not None:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        return self

    def is_quiet(self, local: dt.time) -> bool:
        """Whether a local wall-clock time falls inside the window."""
        local = local.replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def release_at(self, now: dt.datetime, *, tenant_timezone: str) -> dt.datetime | None:
        """When a non-exempt message due ``now`` (aware) may go out; None if right away."""
        tz = ZoneInfo(self.timezone or tenant_timezone)
        local = now.astimezone(tz)
        if not self.is_quiet(local.time()):
            return None
        end = dt.datetime.combine(local.date(), self.end, tzinfo=tz)
        if end <= local:
            end = dt.datetime.combine(local.date() + dt.timedelta(days=1), self.end, tzinfo=tz)
        return end.astimezone(dt.UTC)

    def applies_to(self, event: str) -> bool:
        return event not in self.exempt_events


class RecipientCaps(BaseModel):
    """At most this many messages to one destination per window (anti-bombing)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    per_hour: int | None = Field(default=10, ge=1, le=10_000)
    per_day: int | None = Field(default=30, ge=1, le=100_000)
    exempt_events: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _order(self) -> RecipientCaps:
        if self.per_hour and self.per_day and self.per_hour > self.per_day:
            raise ValueError("per_hour cannot exceed per_day")
        return self


class NotificationsConfig(BaseModel):
    """A tenant's notification setup: channels, routes, template overrides and limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    channels: list[ChannelConfig] = Field(default_factory=list)
    routes: dict[Literal["sms", "email"], str] = Field(default_factory=dict)
    templates: dict[str, dict[str, LocaleTemplates]] = Field(default_factory=dict)
    sms_max_segments: int = Field(default=3, ge=1, le=10)
    quiet_hours: QuietHours | None = None
    caps: RecipientCaps = RecipientCaps()

    @field_validator("templates")
    @classmethod
    def _locales(
        cls, value: dict[str, dict[str, LocaleTemplates]]
    ) -> dict[str, dict[str, LocaleTemplates]]:
        for event, by_locale in value.items():
            for locale in by_locale:
                if not LOCALE_RE.match(locale):
                    raise ValueError(f"{event}.{locale}: not a locale tag like 'fr' or 'pt-BR'")
        return value

    @model_validator(mode="after")
    def _references(self) -> NotificationsConfig:
        names = [c.name for c in self.channels]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"channel names must be unique: {dupes}")
        by_name = {c.name: c.type for c in self.channels}
        for kind, target in self.routes.items():
            ctype = by_name.get(target, "console" if target == BUILTIN_CONSOLE else None)
            if ctype is None:
                raise ValueError(f"routes.{kind}: no channel named {target!r}")
            if kind not in CHANNEL_KINDS[ctype]:
                raise ValueError(f"routes.{kind}: channel {target!r} ({ctype}) cannot send {kind}")
        return self

    def channel(self, name: str) -> ChannelConfig | None:
        return next((c for c in self.channels if c.name == name), None)

    def route(self, kind: Literal["sms", "email"]) -> str:
        """The channel name that carries ``kind`` (the built-in console when unrouted)."""
        return self.routes.get(kind, BUILTIN_CONSOLE)

    def webhooks_for(self, event: str) -> list[WebhookChannelConfig]:
        """The webhook subscriptions that want ``event``."""
        return [
            c
            for c in self.channels
            if isinstance(c, WebhookChannelConfig)
            and (not c.options.events or event in c.options.events)
        ]
