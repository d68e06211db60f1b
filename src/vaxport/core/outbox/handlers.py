"""What a subscriber's handler sees (Event, HandlerContext) and what it may raise."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.settings import Settings

EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_.-]{0,99}$")


@dataclass(frozen=True, slots=True)
class Event:
    """An outbox event as delivered to a subscriber (ids in the payload, never personal data)."""

    id: uuid.UUID
    event_type: str
    tenant_id: uuid.UUID | None
    payload: dict[str, Any]
    # Deliveries to this subscriber started so far, this one included (1 on the first).
    attempts: int
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class HandlerContext:
    """What a handler needs from the process: the database, the cache, the settings."""

    db: Database
    cache: Cache
    settings: Settings


# A handler of one event, and of a list of events (what a subscriber holds).
Handler = Callable[[Event, HandlerContext], Awaitable[None]]
BatchHandler = Callable[[Sequence[Event], HandlerContext], Awaitable[None]]


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


def check_event_type(event_type: str) -> str:
    """``event_type`` if well formed (``context.thing_happened``), else ValueError."""
    if not EVENT_TYPE.match(event_type):
        raise ValueError(f"bad outbox event type {event_type!r}")
    return event_type
