"""What handlers see (Event, HandlerContext), what they may raise, and who handles what."""

from __future__ import annotations

import datetime as dt
import importlib
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.settings import Settings

EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_.-]{0,99}$")


@dataclass(frozen=True, slots=True)
class Event:
    """An outbox event as delivered to a handler (ids in the payload, never personal data)."""

    id: uuid.UUID
    event_type: str
    tenant_id: uuid.UUID | None
    payload: dict[str, Any]
    # Deliveries started so far, this one included (1 on the first delivery).
    attempts: int
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class HandlerContext:
    """What a handler needs from the process: the database, the cache, the settings."""

    db: Database
    cache: Cache
    settings: Settings


Handler = Callable[[Event, HandlerContext], Awaitable[None]]


class RetryLater(Exception):  # noqa: N818 - reads as an instruction to the worker
    """Deliver this event again after ``after_seconds`` (e.g. a provider's Retry-After).

    Not counted against ``outbox_max_attempts``: the handler asked for the delay.
    """

    def __init__(self, after_seconds: float, reason: str = "") -> None:
        self.after_seconds = max(0.0, float(after_seconds))
        super().__init__(reason or f"retry after {self.after_seconds:g}s")


class PermanentFailure(Exception):  # noqa: N818 - reads as a verdict, like RetryLater
    """This event can never succeed: dead-letter it now (an operator may re-drive it)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


_HANDLERS: dict[str, list[Handler]] = {}


def check_event_type(event_type: str) -> str:
    """``event_type`` if well formed (``context.thing_happened``), else ValueError."""
    if not EVENT_TYPE.match(event_type):
        raise ValueError(f"bad outbox event type {event_type!r}")
    return event_type


def register(event_type: str, fn: Handler) -> Handler:
    """Add ``fn`` to the handlers of ``event_type`` (registering it twice is a no-op)."""
    fns = _HANDLERS.setdefault(check_event_type(event_type), [])
    if fn not in fns:
        fns.append(fn)
    return fn


def handler(event_type: str) -> Callable[[Handler], Handler]:
    """Decorator form of :func:`register`."""

    def decorate(fn: Handler) -> Handler:
        return register(event_type, fn)

    return decorate


def handlers_for(event_type: str) -> list[Handler]:
    """The handlers of ``event_type``, in registration order."""
    return list(_HANDLERS.get(event_type, ()))


def registered_types() -> list[str]:
    """Every event type that has at least one handler."""
    return sorted(t for t, fns in _HANDLERS.items() if fns)


def load_handlers() -> None:
    """Import every module listed in :mod:`vaxport.all_handlers` (they register on import)."""
    from vaxport.all_handlers import HANDLER_MODULES

    for name in HANDLER_MODULES:
        importlib.import_module(name)
