"""Checks of the ``notifications:`` section run when a country file is loaded.

The schema itself (channels, routes, quiet hours, caps) is part of the tenant
configuration model; this adds what a schema cannot see: every template the tenant can
send compiles, renders with its event's sample values, and fits ``sms_max_segments``,
in every one of the tenant's locales, each of which has its own templates unless the
tenant declares a ``language_fallbacks`` entry for it. The events that have templates are
declared in :mod:`vaxport.notifications.templates`. The composition root hands both
functions below to tenancy (``ConfigRules``); tenancy never imports notifications.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from vaxport.notifications.validation import locate, validate_notification_config
from vaxport.tenancy.service import ConfigProblem, TenantConfig


def check_notification_templates(config: TenantConfig) -> Iterator[ConfigProblem]:
    """Template problems of ``config`` as ``notifications.templates...`` field errors."""
    for line in validate_notification_config(
        config.notifications,
        default_locale=config.default_locale,
        locales=config.locales,
        path="notifications",
        complete=[locale for locale in config.locales if locale not in config.fallbacks],
    ):
        field, _, reason = line.partition(": ")
        yield ConfigProblem(field, reason)


def locate_problem(loc: Sequence[int | str], reason: str, section: str) -> tuple[str, str]:
    """(dotted path, reason) of a schema error inside the ``notifications:`` section."""
    return locate(loc, reason, prefix=section)
