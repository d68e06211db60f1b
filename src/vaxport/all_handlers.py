"""Modules that register outbox handlers; the worker imports each before it starts.

A context appends its own (``"vaxport.<context>.events"``), one line each.
"""

from __future__ import annotations

HANDLER_MODULES: list[str] = [
    "vaxport.notifications.events",
    "vaxport.facilities.events",
    "vaxport.registration.events",
    "vaxport.registration.imports.events",
]
