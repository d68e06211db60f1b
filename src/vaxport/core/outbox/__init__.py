"""The transactional outbox: contexts react to each other's events, at least once.

A use case writes its rows and its events in one transaction (:func:`emit`); a worker
(``vaxport worker``, or :func:`run_worker` in-process) delivers each event to every
handler registered for its type (:func:`handler`). Handlers must be idempotent: an event
can be delivered again after a crash or a lapsed lease. A handler raises
:class:`RetryLater` to be called again after a delay, :class:`PermanentFailure` to
dead-letter the event at once; any other exception is retried with exponential backoff
and full jitter, then dead-lettered after ``outbox_max_attempts``. Operators list and
re-drive dead letters with ``vaxport outbox dead`` / ``vaxport outbox redrive``.
"""

from __future__ import annotations

from vaxport.core.outbox.admin import (
    DeadEvent,
    OutboxStats,
    TypeCounts,
    list_dead,
    purge_delivered,
    redrive,
    refresh_metrics,
    stats,
)
from vaxport.core.outbox.emit import emit
from vaxport.core.outbox.models import DEAD, DELIVERED, PENDING, OutboxEvent
from vaxport.core.outbox.registry import (
    Event,
    Handler,
    HandlerContext,
    PermanentFailure,
    RetryLater,
    handler,
    handlers_for,
    load_handlers,
    register,
    registered_types,
)
from vaxport.core.outbox.worker import Worker, backoff_seconds, run_worker

__all__ = [
    "DEAD",
    "DELIVERED",
    "PENDING",
    "DeadEvent",
    "Event",
    "Handler",
    "HandlerContext",
    "OutboxEvent",
    "OutboxStats",
    "PermanentFailure",
    "RetryLater",
    "TypeCounts",
    "Worker",
    "backoff_seconds",
    "emit",
    "handler",
    "handlers_for",
    "list_dead",
    "load_handlers",
    "purge_delivered",
    "redrive",
    "refresh_metrics",
    "register",
    "registered_types",
    "run_worker",
    "stats",
]
