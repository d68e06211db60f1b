"""The transactional outbox: an event is published once and delivered to each subscriber.

A use case writes its rows and its events in one transaction (:func:`emit`). A worker
(``vaxport worker``, or :func:`run_worker` in-process) fans each event out to the
subscribers of its type in the :class:`Subscriptions` it was given (none: done), then
delivers to each subscriber independently, at least once, in batches of up to the
subscriber's ``batch_size``. Subscribers must be idempotent. A handler raises
:class:`RetryLater` to be called again after a delay, :class:`PermanentFailure` to
dead-letter its deliveries at once; any other exception is retried with exponential
backoff and full jitter, then dead-lettered after ``outbox_max_attempts`` — for that
subscriber alone. Operators see the backlog with ``vaxport outbox stats`` and list and
re-drive dead letters with ``vaxport outbox dead`` / ``vaxport outbox redrive``.
"""

from __future__ import annotations

from vaxport.core.outbox.admin import (
    DeadDelivery,
    OutboxStats,
    SubscriberCounts,
    list_dead,
    purge_delivered,
    redrive,
    refresh_metrics,
    stats,
)
from vaxport.core.outbox.claims import Delivery
from vaxport.core.outbox.emit import emit, event_row
from vaxport.core.outbox.handlers import (
    BatchHandler,
    Event,
    Handler,
    HandlerContext,
    PermanentFailure,
    RetryLater,
)
from vaxport.core.outbox.models import DEAD, DELIVERED, PENDING, OutboxDelivery, OutboxEvent
from vaxport.core.outbox.subscriptions import Subscriber, Subscriptions, one_at_a_time
from vaxport.core.outbox.worker import Worker, backoff_seconds, run_worker

__all__ = [
    "DEAD",
    "DELIVERED",
    "PENDING",
    "BatchHandler",
    "DeadDelivery",
    "Delivery",
    "Event",
    "Handler",
    "HandlerContext",
    "OutboxDelivery",
    "OutboxEvent",
    "OutboxStats",
    "PermanentFailure",
    "RetryLater",
    "Subscriber",
    "SubscriberCounts",
    "Subscriptions",
    "Worker",
    "backoff_seconds",
    "emit",
    "event_row",
    "list_dead",
    "one_at_a_time",
    "purge_delivered",
    "redrive",
    "refresh_metrics",
    "run_worker",
    "stats",
]
