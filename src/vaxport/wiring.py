"""The composition root: the application's parts, built explicitly and handed out.

Nothing registers itself by being imported; the app, the worker and the CLI ask here.
"""

from __future__ import annotations

from vaxport.core.outbox import Subscriptions
from vaxport.facilities import events as facilities_events
from vaxport.notifications import events as notifications_events
from vaxport.registration import import_events as registration_import_events


def event_subscriptions() -> Subscriptions:
    """Every context's outbox subscribers (a context with none is simply not listed)."""
    return Subscriptions(
        [
            *notifications_events.SUBSCRIBERS,
            *facilities_events.SUBSCRIBERS,
            *registration_import_events.SUBSCRIBERS,
        ]
    )
