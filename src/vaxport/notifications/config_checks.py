"""Checks of the ``notifications:`` section run when a country file is loaded.

The schema itself (channels, routes, quiet hours, caps) is part of the tenant
configuration model; this adds what a schema cannot see: every template the tenant can
send compiles, renders with its event's sample values, and fits ``sms_max_segments``,
in every one of the tenant's locales (or a fallback). Events are registered by the
modules that handle them, so those are imported first.
"""

from __future__ import annotations

from collections.abc import Iterator

from vaxport.core.outbox import load_handlers
from vaxport.notifications.validation import validate_notification_config
from vaxport.tenancy.service import ConfigProblem, TenantConfig, register_validator


@register_validator
def check_notification_templates(config: TenantConfig) -> Iterator[ConfigProblem]:
    """Template problems of ``config`` as ``notifications.templates...`` field errors."""
    load_handlers()
    for line in validate_notification_config(
        config.notifications,
        default_locale=config.default_locale,
        locales=config.locales,
        path="notifications",
    ):
        field, _, reason = line.partition(": ")
        yield ConfigProblem(field, reason)
