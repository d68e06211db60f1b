"""Per-process delivery state: each tenant's built channels and compiled templates.

Channels hold pooled connections (one HTTP client for every HTTP channel of the process,
SMTP connections per channel), so they are built once per tenant configuration and
reused; a configuration load (new hash) replaces them. Everything belongs to the event
loop it was built in: a new loop (a CLI command run after another) starts afresh.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from vaxport.notifications.channels import ChannelSet, HttpPool
from vaxport.notifications.templates import TemplateSet
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantInfo

_TEMPLATE_SETS = 64


@dataclass(slots=True)
class _Built:
    config_hash: str
    settings: Settings
    channels: ChannelSet


class Runtime:
    """Channel sets by tenant, one HTTP pool, template sets by configuration hash."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool: HttpPool | None = None
        self._channels: dict[uuid.UUID, _Built] = {}
        self._templates: OrderedDict[str, TemplateSet] = OrderedDict()
        self._lock: asyncio.Lock | None = None

    def _same_loop(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # Connections of another (probably finished) loop cannot be used or closed here.
            self._loop = loop
            self._pool = None
            self._channels = {}
            self._lock = asyncio.Lock()
        assert self._lock is not None
        return self._lock

    async def channels(self, tenant: TenantInfo, settings: Settings) -> ChannelSet:
        """The tenant's channels for its current configuration (built on first use).

        Raises :class:`~vaxport.notifications.channels.ChannelConfigError` when one
        cannot be built (a secret's environment variable is missing).
        """
        lock = self._same_loop()
        built = self._channels.get(tenant.id)
        if built is not None and (built.config_hash, built.settings) == (tenant.hash, settings):
            return built.channels
        async with lock:
            built = self._channels.get(tenant.id)
            if built is not None and (built.config_hash, built.settings) == (tenant.hash, settings):
                return built.channels
            if self._pool is None:
                self._pool = HttpPool()
            channels = ChannelSet(tenant.config.notifications, settings=settings, pool=self._pool)
            self._channels[tenant.id] = _Built(tenant.hash, settings, channels)
        if built is not None:
            # Sends in flight on the old set finish; their connections close after.
            await built.channels.aclose()
        return channels

    def templates(self, tenant: TenantInfo) -> TemplateSet:
        """The tenant's templates (its overrides over the shipped ones), compiled once."""
        found = self._templates.get(tenant.hash)
        if found is None:
            cfg = tenant.config
            found = TemplateSet(cfg.notifications.templates, default_locale=cfg.default_locale)
            self._templates[tenant.hash] = found
            while len(self._templates) > _TEMPLATE_SETS:
                self._templates.popitem(last=False)
        self._templates.move_to_end(tenant.hash)
        return found

    async def aclose(self) -> None:
        """Close every channel and the HTTP pool (process shutdown, tests)."""
        if self._loop is not asyncio.get_running_loop():
            self._channels = {}
            self._pool = None
            return
        built, self._channels = list(self._channels.values()), {}
        for b in built:
            await b.channels.aclose()
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


RUNTIME = Runtime()


async def close_channels() -> None:
    """Release the process's provider connections."""
    await RUNTIME.aclose()
