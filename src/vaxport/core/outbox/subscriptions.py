"""Who receives which events: subscribers as plain values, collected by the composition root.

A context declares its subscribers in its events module; ``vaxport.wiring`` lists them in
one :class:`Subscriptions` handed to the worker. Nothing registers itself on import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from vaxport.core.outbox.handlers import (
    BatchHandler,
    Event,
    Handler,
    HandlerContext,
    check_event_type,
)

# Stored in every delivery row and shown to operators: stable, "<context>.<what-it-does>".
SUBSCRIBER_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,99}$")
MAX_BATCH_SIZE = 10_000


def one_at_a_time(fn: Handler) -> BatchHandler:
    """A batch handler that calls the one-event handler ``fn`` for each event in turn."""

    async def each(events: Sequence[Event], ctx: HandlerContext) -> None:
        for event in events:
            await fn(event, ctx)

    each.__qualname__ = getattr(fn, "__qualname__", "one_at_a_time")
    return each


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A named reaction to events of ``event_types``; receives lists of up to ``batch_size``.

    All events of one call share one outcome: if the handler raises, every event in the
    list is retried (or dead-lettered) for this subscriber, so handlers stay idempotent.
    """

    name: str
    event_types: tuple[str, ...]
    handler: BatchHandler
    batch_size: int = 1

    def __post_init__(self) -> None:
        if not SUBSCRIBER_NAME.match(self.name):
            raise ValueError(f"bad subscriber name {self.name!r}")
        types = tuple(dict.fromkeys(check_event_type(t) for t in self.event_types))
        if not types:
            raise ValueError(f"subscriber {self.name} subscribes to no event type")
        object.__setattr__(self, "event_types", types)
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size of {self.name} must be 1..{MAX_BATCH_SIZE}")

    @classmethod
    def each(cls, name: str, event_types: Iterable[str], handler: Handler) -> Subscriber:
        """A subscriber that handles one event per call (``handler(event, ctx)``)."""
        return cls(name, tuple(event_types), one_at_a_time(handler))


class Subscriptions:
    """An immutable set of subscribers with unique names, looked up by event type."""

    __slots__ = ("_by_name", "_by_type")

    def __init__(self, subscribers: Iterable[Subscriber] = ()) -> None:
        by_name: dict[str, Subscriber] = {}
        by_type: dict[str, list[Subscriber]] = {}
        for sub in subscribers:
            if sub.name in by_name:
                raise ValueError(f"two subscribers are named {sub.name}")
            by_name[sub.name] = sub
            for event_type in sub.event_types:
                by_type.setdefault(event_type, []).append(sub)
        self._by_name = by_name
        self._by_type = {t: tuple(subs) for t, subs in by_type.items()}

    def for_type(self, event_type: str) -> tuple[Subscriber, ...]:
        """The subscribers of ``event_type``, in the order they were listed."""
        return self._by_type.get(event_type, ())

    def get(self, name: str) -> Subscriber | None:
        """The subscriber called ``name``, if it is part of this set."""
        return self._by_name.get(name)

    @property
    def names(self) -> tuple[str, ...]:
        """Every subscriber's name, in the order they were listed."""
        return tuple(self._by_name)

    @property
    def event_types(self) -> tuple[str, ...]:
        """Every event type somebody subscribes to, sorted."""
        return tuple(sorted(self._by_type))

    def __iter__(self) -> Iterator[Subscriber]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __repr__(self) -> str:
        return f"Subscriptions({', '.join(self._by_name)})"
