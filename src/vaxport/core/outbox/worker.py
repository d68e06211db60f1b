"""Delivering events: fan each out to its subscribers, then run each delivery on its own.

A due event is fanned out once, in the claim's transaction: one delivery row per current
subscriber of its type (none: the event is simply done). Each delivery is then retried,
leased and dead-lettered independently, so a subscriber that succeeded is never re-run
because another failed. At least once: a delivery is marked delivered only after its
subscriber returned, in a transaction of its own, so a crash in between delivers it
again (subscribers are idempotent). A claimed delivery is leased to one worker
(``locked_until``/``locked_by``); the lease is renewed while the batch runs and lapses if
the worker dies, after which another worker claims it again. No order guarantee.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import secrets
import socket
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update

from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.logging import get_logger
from vaxport.core.metrics import OUTBOX_DELIVERED, OUTBOX_FAILED
from vaxport.core.outbox.claims import Delivery, fan_out, lease
from vaxport.core.outbox.handlers import HandlerContext, PermanentFailure, RetryLater
from vaxport.core.outbox.models import D_PENDING, DEAD, DELIVERED, PENDING, OutboxDelivery
from vaxport.core.outbox.subscriptions import Subscriptions
from vaxport.settings import Settings

log = get_logger(__name__)

# A periodic job run beside the worker until the stop event is set: (db, stop).
Companion = Callable[[Database, asyncio.Event], Coroutine[Any, Any, None]]


def backoff_seconds(attempts: int, *, base: float, cap: float) -> float:
    """Exponential backoff with full jitter: uniform over [0, min(cap, base * 2^(n-1))]."""
    ceiling = min(cap, base * 2.0 ** min(max(0, attempts - 1), 60))
    return random.uniform(0.0, ceiling)  # noqa: S311 - spreading retries, not a secret


def describe_error(exc: BaseException) -> str:
    """Exception type and a short one-line message, for ``last_error`` and logs."""
    message = " ".join(str(exc).split())[:200]
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


@dataclass(frozen=True, slots=True)
class Outcome:
    """What becomes of a delivery: its new state and the columns that change."""

    delivery: Delivery
    state: str
    values: dict[str, Any]


def default_worker_id() -> str:
    """host:pid:random, unique per worker even when pids are reused across containers."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


class Worker:
    """One worker: fans events out, claims deliveries under its id and runs the subscribers."""

    def __init__(
        self,
        db: Database,
        cache: Cache,
        settings: Settings,
        *,
        subscriptions: Subscriptions,
        concurrency: int | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.subscriptions = subscriptions
        self.ctx = HandlerContext(db=db, cache=cache, settings=settings)
        self.concurrency = concurrency or settings.outbox_concurrency
        self.worker_id = (worker_id or default_worker_id())[:100]
        self.lease = dt.timedelta(seconds=settings.outbox_lease_seconds)
        self._next_housekeeping = 0.0
        # Events the last claim fanned out: progress even when nobody subscribes to them.
        self._fanned_out = 0

    async def claim(self, *, due_by: dt.datetime | None = None) -> list[Delivery]:
        """Fan out due events, then lease up to a batch of due deliveries (one transaction).

        Leasing counts a delivery attempt. Only deliveries to this worker's subscribers
        are claimed: during a rolling deploy, a subscriber new in this release is left to
        the workers that know it.
        """
        now = utcnow()
        cutoff = min(now, due_by) if due_by else now
        limit = self.settings.outbox_batch_size
        skip_locked = self.db.is_postgres
        async with self.db.transaction() as uow:
            self._fanned_out = await fan_out(
                uow.session, self.subscriptions, cutoff=cutoff, limit=limit, skip_locked=skip_locked
            )
            return await lease(
                uow.session,
                self.subscriptions.names,
                cutoff=cutoff,
                limit=limit,
                skip_locked=skip_locked,
                until=now + self.lease,
                worker_id=self.worker_id,
            )

    async def deliver(self, delivery: Delivery) -> str:
        """Run ``delivery``'s subscriber and record the outcome; returns the new state."""
        [outcome] = await self.handle([delivery])
        await self.record([outcome])
        return outcome.state

    async def handle(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        """Call one subscriber with these deliveries' events (not yet recorded)."""
        name = deliveries[0].subscriber
        sub = self.subscriptions.get(name)
        try:
            if sub is None or any(d.subscriber != name for d in deliveries):
                raise LookupError(f"no subscriber {name} in this worker")
            async with asyncio.timeout(self.settings.outbox_handler_timeout_seconds):
                await sub.handler([d.event for d in deliveries], self.ctx)
        except RetryLater as exc:
            return [
                self._retry(d, exc.after_seconds, "RetryLater", counted=False) for d in deliveries
            ]
        except PermanentFailure as exc:
            self._failed(deliveries, exc)
            return [self._dead(d, describe_error(exc)) for d in deliveries]
        except Exception as exc:  # noqa: BLE001 - any other failure is transient by contract
            self._failed(deliveries, exc)
            outcomes = []
            for d in deliveries:
                if d.event.attempts >= self.settings.outbox_max_attempts:
                    outcomes.append(self._dead(d, describe_error(exc)))
                    continue
                delay = backoff_seconds(
                    d.event.attempts,
                    base=self.settings.outbox_backoff_base_seconds,
                    cap=self.settings.outbox_backoff_max_seconds,
                )
                outcomes.append(self._retry(d, delay, describe_error(exc), counted=True))
            return outcomes
        for d in deliveries:
            OUTBOX_DELIVERED.labels(d.subscriber, d.event.event_type).inc()
        return [Outcome(d, DELIVERED, {}) for d in deliveries]

    def _failed(self, deliveries: Sequence[Delivery], exc: Exception) -> None:
        for d in deliveries:
            OUTBOX_FAILED.labels(d.subscriber, d.event.event_type).inc()
        log.warning(
            "outbox.handler_failed",
            subscriber=deliveries[0].subscriber,
            event_ids=[str(d.event.id) for d in deliveries[:10]],
            events=len(deliveries),
            attempts=max(d.event.attempts for d in deliveries),
            error=describe_error(exc),
        )

    def _dead(self, delivery: Delivery, error: str) -> Outcome:
        log.error(
            "outbox.dead_lettered",
            event_id=str(delivery.event.id),
            event_type=delivery.event.event_type,
            subscriber=delivery.subscriber,
            attempts=delivery.event.attempts,
            error=error,
        )
        return Outcome(delivery, DEAD, {"last_error": error})

    def _retry(self, delivery: Delivery, delay: float, error: str, *, counted: bool) -> Outcome:
        values: dict[str, Any] = {
            "available_at": utcnow() + dt.timedelta(seconds=delay),
            "last_error": error,
        }
        if not counted:
            values["attempts"] = OutboxDelivery.attempts - 1
        return Outcome(delivery, PENDING, values)

    async def record(self, outcomes: Sequence[Outcome]) -> int:
        """Write outcomes in one transaction, each guarded by this worker's lease.

        If a lease lapsed and another worker took the delivery, its outcome wins and ours
        is dropped (the subscriber ran twice; it is idempotent). Returns how many were kept.
        """
        mine = (OutboxDelivery.locked_by == self.worker_id, D_PENDING)
        cleared = {"locked_until": None, "locked_by": None}
        delivered = [o.delivery.id for o in outcomes if o.state == DELIVERED]
        kept = 0
        async with self.db.transaction() as uow:
            if delivered:
                # One statement for the common case: the rate is bounded by commits.
                result: Any = await uow.session.execute(
                    update(OutboxDelivery)
                    .where(OutboxDelivery.id.in_(delivered), *mine)
                    .values(state=DELIVERED, delivered_at=utcnow(), **cleared)
                    .execution_options(synchronize_session=False)
                )
                kept += int(result.rowcount)
            for o in outcomes:
                if o.state == DELIVERED:
                    continue
                result = await uow.session.execute(
                    update(OutboxDelivery)
                    .where(OutboxDelivery.id == o.delivery.id, *mine)
                    .values(state=o.state, **cleared, **o.values)
                    .execution_options(synchronize_session=False)
                )
                kept += int(result.rowcount)
        if kept < len(outcomes):
            log.warning("outbox.lease_lost", worker=self.worker_id, lost=len(outcomes) - kept)
        return kept

    async def _renew(self, pending: set[uuid.UUID]) -> None:
        interval = self.settings.outbox_lease_seconds / 3
        while pending:
            await asyncio.sleep(interval)
            ids = list(pending)
            if not ids:
                return
            stmt = (
                update(OutboxDelivery)
                .where(
                    OutboxDelivery.id.in_(ids),
                    OutboxDelivery.locked_by == self.worker_id,
                    D_PENDING,
                )
                .values(locked_until=utcnow() + self.lease)
                .execution_options(synchronize_session=False)
            )
            try:
                async with self.db.transaction() as uow:
                    await uow.session.execute(stmt)
            except Exception as exc:  # noqa: BLE001 - the next renewal may succeed
                log.warning("outbox.renew_failed", error=describe_error(exc))

    def calls(self, deliveries: Sequence[Delivery]) -> list[list[Delivery]]:
        """Deliveries grouped into subscriber calls of at most each one's batch size."""
        by_subscriber: dict[str, list[Delivery]] = {}
        for d in deliveries:
            by_subscriber.setdefault(d.subscriber, []).append(d)
        calls = []
        for name, group in by_subscriber.items():
            sub = self.subscriptions.get(name)
            size = sub.batch_size if sub is not None else 1
            calls += [group[i : i + size] for i in range(0, len(group), size)]
        return calls

    async def run_batch(self, *, due_by: dt.datetime | None = None) -> int:
        """Fan out, claim one batch of deliveries and run them; how many were handled.

        Each call's outcomes are recorded as soon as it returns; outcomes that finish
        while a write is in flight go together in the next one (group commit).
        """
        deliveries = await self.claim(due_by=due_by)
        if not deliveries:
            return 0
        pending = {d.id for d in deliveries}  # leased and not yet recorded: keep renewing
        gate = asyncio.Semaphore(self.concurrency)
        done: list[Outcome] = []
        ready = asyncio.Event()
        finished = False

        async def one(call: list[Delivery]) -> None:
            async with gate:
                try:
                    outcomes = await self.handle(call)
                except Exception as exc:  # noqa: BLE001 - never expected; the lease lapses
                    log.error(
                        "outbox.handle_failed",
                        subscriber=call[0].subscriber,
                        error=describe_error(exc),
                    )
                    pending.difference_update(d.id for d in call)
                    return
            done.extend(outcomes)
            ready.set()

        async def committer() -> None:
            while True:
                await ready.wait()
                ready.clear()
                while done:
                    take = done[:]
                    done.clear()
                    try:
                        await self.record(take)
                    except Exception as exc:  # noqa: BLE001 - e.g. database gone: leases lapse
                        log.error(
                            "outbox.record_failed", count=len(take), error=describe_error(exc)
                        )
                    finally:
                        pending.difference_update(o.delivery.id for o in take)
                if finished:
                    return

        renewer = asyncio.create_task(self._renew(pending))
        recorder = asyncio.create_task(committer())
        try:
            async with asyncio.TaskGroup() as group:
                for call in self.calls(deliveries):
                    group.create_task(one(call))
            finished = True
            ready.set()
            await recorder
        finally:
            for task in (recorder, renewer):
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
        return len(deliveries)

    async def housekeep(self, *, force: bool = False) -> None:
        """Purge old deliveries and events and expired idempotency keys, every few minutes."""
        if not force and time.monotonic() < self._next_housekeeping:
            return
        self._next_housekeeping = time.monotonic() + self.settings.outbox_housekeeping_seconds
        from vaxport.core.idempotency import purge_expired
        from vaxport.core.outbox.admin import purge_delivered

        cutoff = utcnow() - dt.timedelta(days=self.settings.outbox_retention_days)
        events = await purge_delivered(db=self.db, before=cutoff)
        keys = await purge_expired(db=self.db)
        if events or keys:
            log.info("outbox.housekeeping", events_purged=events, idempotency_keys_purged=keys)

    async def run(self, stop: asyncio.Event, *, once: bool = False) -> int:
        """Deliver until ``stop`` is set (the batch in hand is finished first).

        ``once``: deliver what is due now, then return. Returns the deliveries handled.
        """
        started = utcnow() if once else None
        handled = 0
        failures = 0
        log.info("outbox.worker_started", worker=self.worker_id, concurrency=self.concurrency)
        while not stop.is_set():
            try:
                await self.housekeep()
                count = await self.run_batch(due_by=started)
                progress = count + self._fanned_out
                failures = 0
            except Exception as exc:
                if once:
                    raise
                failures += 1
                count = progress = 0
                log.error("outbox.worker_error", error=describe_error(exc), failures=failures)
            handled += count
            if progress:
                continue
            if once:
                break
            pause = self.settings.outbox_poll_seconds * (2 ** min(failures, 6))
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(pause, 30.0))
        log.info("outbox.worker_stopped", worker=self.worker_id, handled=handled)
        return handled


async def run_worker(
    db: Database,
    cache: Cache,
    settings: Settings,
    stop: asyncio.Event,
    *,
    subscriptions: Subscriptions,
    companions: Sequence[Companion] = (),
    concurrency: int | None = None,
    once: bool = False,
    worker_id: str | None = None,
) -> int:
    """Run one worker in this process until ``stop`` is set; returns the deliveries handled.

    ``companions`` run beside it until ``stop`` (not with ``once``): the composition root
    passes the periodic jobs every deployment needs, such as sealing the audit chain.
    """
    worker = Worker(
        db,
        cache,
        settings,
        subscriptions=subscriptions,
        concurrency=concurrency,
        worker_id=worker_id,
    )
    if once:
        return await worker.run(stop, once=True)
    tasks = [asyncio.create_task(companion(db, stop)) for companion in companions]
    try:
        return await worker.run(stop, once=False)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
