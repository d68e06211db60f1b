"""Delivery channels, built by name and type from a tenant's configuration.

For a dispatcher::

    channels = ChannelSet(tenant_config.notifications, settings=settings, pool=pool)
    result = await channels.for_kind("sms").send(OutgoingMessage(...))
    for hook in channels.webhooks_for("login_code"): await hook.send(...)
    await channels.aclose()
"""

from __future__ import annotations

from typing import TextIO

from vaxport.notifications.channels.base import (
    Channel,
    ChannelConfigError,
    MessageKind,
    Outcome,
    OutgoingMessage,
    SendResult,
)
from vaxport.notifications.channels.http import HttpPool
from vaxport.settings import Settings
from vaxport.tenancy.service import (
    BUILTIN_CONSOLE,
    ChannelConfig,
    ConsoleChannelConfig,
    ConsoleOptions,
    NotificationsConfig,
    SmsHttpChannelConfig,
    SmtpChannelConfig,
    SnsChannelConfig,
    TwilioChannelConfig,
    WebhookChannelConfig,
)

__all__ = [
    "Channel",
    "ChannelConfigError",
    "ChannelSet",
    "HttpPool",
    "MessageKind",
    "Outcome",
    "OutgoingMessage",
    "SendResult",
    "build_channel",
]


def build_channel(
    config: ChannelConfig,
    *,
    settings: Settings,
    pool: HttpPool,
    console_stream: TextIO | None = None,
) -> Channel:
    """The channel described by ``config``; raises :class:`ChannelConfigError`."""
    if isinstance(config, SmtpChannelConfig):
        from vaxport.notifications.channels.smtp import SmtpChannel

        return SmtpChannel(config.name, config.options)
    if isinstance(config, SmsHttpChannelConfig):
        from vaxport.notifications.channels.sms_http import HttpSmsChannel

        return HttpSmsChannel(config.name, config.options, pool=pool)
    if isinstance(config, TwilioChannelConfig):
        from vaxport.notifications.channels.sms_http import TwilioChannel

        return TwilioChannel(config.name, config.options, pool=pool)
    if isinstance(config, WebhookChannelConfig):
        from vaxport.notifications.channels.webhook import WebhookChannel

        return WebhookChannel(config.name, config.options, pool=pool)
    if isinstance(config, SnsChannelConfig):
        from vaxport.notifications.channels.sns import SnsChannel

        return SnsChannel(config.name, config.options)
    assert isinstance(config, ConsoleChannelConfig)
    if settings.env == "production":
        raise ChannelConfigError(
            f"channel {config.name!r}: the console channel prints login codes and "
            "destinations; it is refused in production"
        )
    from vaxport.notifications.channels.console import ConsoleChannel, console_outbox_path

    return ConsoleChannel(
        config.name,
        config.options,
        outbox=console_outbox_path(settings),
        stream=console_stream,
    )


class ChannelSet:
    """The built channels of one tenant (all built up front, so a missing secret
    shows at start-up, not at the first send)."""

    def __init__(
        self,
        config: NotificationsConfig,
        *,
        settings: Settings,
        pool: HttpPool,
        console_stream: TextIO | None = None,
    ) -> None:
        self.config = config
        configs: list[ChannelConfig] = list(config.channels)
        needs_console = BUILTIN_CONSOLE in {config.route("sms"), config.route("email")}
        if needs_console and config.channel(BUILTIN_CONSOLE) is None:
            configs.append(
                ConsoleChannelConfig(name=BUILTIN_CONSOLE, type="console", options=ConsoleOptions())
            )
        self._channels: dict[str, Channel] = {}
        try:
            for c in configs:
                self._channels[c.name] = build_channel(
                    c, settings=settings, pool=pool, console_stream=console_stream
                )
        except ChannelConfigError as exc:
            raise ChannelConfigError(f"channel {c.name!r}: {exc}") from exc

    def get(self, name: str) -> Channel:
        return self._channels[name]

    def for_kind(self, kind: MessageKind) -> Channel:
        """The channel that carries ``kind`` ('sms' or 'email') for this tenant."""
        if kind == "webhook":
            raise ValueError("webhooks go to every subscription: use webhooks_for(event)")
        return self._channels[self.config.route(kind)]

    def webhooks_for(self, event: str) -> list[Channel]:
        """The webhook subscriptions that want ``event``."""
        return [self._channels[c.name] for c in self.config.webhooks_for(event)]

    async def aclose(self) -> None:
        for channel in self._channels.values():
            await channel.aclose()
