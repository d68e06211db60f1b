"""Delivering events: claim a leased batch, run its handlers, record each outcome.

At least once: an event is marked delivered only after every handler returned, in a
transaction of its own, so a crash in between delivers it again (handlers are
idempotent). A claimed event is leased to one worker (``locked_until``/``locked_by``);
the lease is renewed while the batch runs and lapses if the worker dies, after which
another worker claims the event again. Events carry no order guarantee.
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
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update

from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.logging import get_logger
from vaxport.core.metrics import OUTBOX_DELIVERED, OUTBOX_FAILED
from vaxport.core.outbox.models import DEAD, DELIVERED, IS_PENDING, PENDING, OutboxEvent
from vaxport.core.outbox.registry import (
    Event,
    HandlerContext,
    PermanentFailure,
    RetryLater,
    handlers_for,
    load_handlers,
)
from vaxport.settings import Settings

log = get_logger(__name__)


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
    """What becomes of a handled event: its new state and the columns that change."""

    event: Event
    state: str
    values: dict[str, Any]


def default_worker_id() -> str:
    """host:pid:random, unique per worker even when pids are reused across containers."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


class Worker:
    """One worker: claims batches under its id and delivers them to the handlers."""

    def __init__(
        self,
        db: Database,
        cache: Cache,
        settings: Settings,
        *,
        concurrency: int | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.ctx = HandlerContext(db=db, cache=cache, settings=settings)
        self.concurrency = concurrency or settings.outbox_concurrency
        self.worker_id = (worker_id or default_worker_id())[:100]
        self.lease = dt.timedelta(seconds=settings.outbox_lease_seconds)
        self._next_housekeeping = 0.0

    async def claim(self, *, due_by: dt.datetime | None = None) -> list[Event]:
        """Lease up to a batch of due events to this worker (counts a delivery attempt)."""
        now = utcnow()
        cutoff = min(now, due_by) if due_by else now
        due = (
            select(OutboxEvent.id)
            .where(
                IS_PENDING,
                OutboxEvent.available_at <= cutoff,
                or_(OutboxEvent.locked_until.is_(None), OutboxEvent.locked_until <= now),
            )
            .order_by(OutboxEvent.available_at)
            .limit(self.settings.outbox_batch_size)
        )
        if self.db.is_postgres:
            # Concurrent claimers skip each other's rows instead of queueing behind them.
            # On SQLite the BEGIN IMMEDIATE writer lock serialises claims instead.
            due = due.with_for_update(skip_locked=True)
        stmt = (
            update(OutboxEvent)
            .where(OutboxEvent.id.in_(due.scalar_subquery()))
            .values(
                locked_until=now + self.lease,
                locked_by=self.worker_id,
                attempts=OutboxEvent.attempts + 1,
            )
            .returning(
                OutboxEvent.id,
                OutboxEvent.event_type,
                OutboxEvent.tenant_id,
                OutboxEvent.payload,
                OutboxEvent.attempts,
                OutboxEvent.created_at,
            )
            .execution_options(synchronize_session=False)
        )
        async with self.db.transaction() as uow:
            rows = (await uow.session.execute(stmt)).all()
        events = [Event(*row) for row in rows]
        events.sort(key=lambda e: e.id)
        return events

    async def deliver(self, event: Event) -> str:
        """Run every handler of ``event`` and record the outcome; returns the new state."""
        outcome = await self.handle(event)
        await self.record([outcome])
        return outcome.state

    async def handle(self, event: Event) -> Outcome:
        """Run every handler of ``event``; what should become of it (not yet recorded)."""
        fns = handlers_for(event.event_type)
        transient: Exception | None = None
        permanent: PermanentFailure | None = None
        retry_after: float | None = None
        if not fns:
            # Unknown here, perhaps known to a newer worker (rolling deploy): retry, and
            # dead-letter eventually so a missing handler module shows up.
            transient = LookupError(f"no handler registered for {event.event_type}")
        for fn in fns:
            try:
                async with asyncio.timeout(self.settings.outbox_handler_timeout_seconds):
                    await fn(event, self.ctx)
            except RetryLater as exc:
                retry_after = max(retry_after or 0.0, exc.after_seconds)
            except PermanentFailure as exc:
                permanent = permanent or exc
            except Exception as exc:  # noqa: BLE001 - any other failure is transient by contract
                transient = transient or exc
                log.warning(
                    "outbox.handler_failed",
                    event_id=str(event.id),
                    event_type=event.event_type,
                    attempts=event.attempts,
                    handler=getattr(fn, "__qualname__", repr(fn)),
                    error=describe_error(exc),
                )
        if permanent is not None or transient is not None:
            OUTBOX_FAILED.labels(event.event_type).inc()
        if permanent is not None:
            return self._dead(event, describe_error(permanent))
        if transient is not None:
            if event.attempts >= self.settings.outbox_max_attempts:
                return self._dead(event, describe_error(transient))
            delay = backoff_seconds(
                event.attempts,
                base=self.settings.outbox_backoff_base_seconds,
                cap=self.settings.outbox_backoff_max_seconds,
            )
            return self._retry(
                event, max(delay, retry_after or 0.0), describe_error(transient), counted=True
            )
        if retry_after is not None:
            return self._retry(event, retry_after, "RetryLater", counted=False)
        OUTBOX_DELIVERED.labels(event.event_type).inc()
        return Outcome(event, DELIVERED, {"delivered_at": utcnow()})

    def _dead(self, event: Event, error: str) -> Outcome:
        log.error(
            "outbox.dead_lettered",
            event_id=str(event.id),
            event_type=event.event_type,
            attempts=event.attempts,
            error=error,
        )
        return Outcome(event, DEAD, {"last_error": error})

    def _retry(self, event: Event, delay: float, error: str, *, counted: bool) -> Outcome:
        values: dict[str, Any] = {
            "available_at": utcnow() + dt.timedelta(seconds=delay),
            "last_error": error,
        }
        if not counted:
            values["attempts"] = OutboxEvent.attempts - 1
        return Outcome(event, PENDING, values)

    async def record(self, outcomes: Sequence[Outcome]) -> int:
        """Write outcomes in one transaction, each guarded by this worker's lease.

        If a lease lapsed and another worker took the event, its outcome wins and ours is
        dropped (the handlers ran twice; they are idempotent). Returns how many were kept.
        """
        mine = (OutboxEvent.locked_by == self.worker_id, IS_PENDING)
        cleared = {"locked_until": None, "locked_by": None}
        delivered = [o.event.id for o in outcomes if o.state == DELIVERED]
        kept = 0
        async with self.db.transaction() as uow:
            if delivered:
                # One statement for the common case: the rate is bounded by commits.
                result: Any = await uow.session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.id.in_(delivered), *mine)
                    .values(state=DELIVERED, delivered_at=utcnow(), **cleared)
                    .execution_options(synchronize_session=False)
                )
                kept += int(result.rowcount)
            for o in outcomes:
                if o.state == DELIVERED:
                    continue
                result = await uow.session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.id == o.event.id, *mine)
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
                update(OutboxEvent)
                .where(
                    OutboxEvent.id.in_(ids),
                    OutboxEvent.locked_by == self.worker_id,
                    IS_PENDING,
                )
                .values(locked_until=utcnow() + self.lease)
                .execution_options(synchronize_session=False)
            )
            try:
                async with self.db.transaction() as uow:
                    await uow.session.execute(stmt)
            except Exception as exc:  # noqa: BLE001 - the next renewal may succeed
                log.warning("outbox.renew_failed", error=describe_error(exc))

    async def run_batch(self, *, due_by: dt.datetime | None = None) -> int:
        """Claim one batch and deliver it; returns how many events were handled.

        Each outcome is recorded as soon as its event is handled; outcomes that finish
        while a write is in flight go together in the next one (group commit).
        """
        events = await self.claim(due_by=due_by)
        if not events:
            return 0
        pending = {e.id for e in events}  # leased and not yet recorded: keep renewing
        gate = asyncio.Semaphore(self.concurrency)
        done: list[Outcome] = []
        ready = asyncio.Event()
        finished = False

        async def one(event: Event) -> None:
            async with gate:
                try:
                    outcome = await self.handle(event)
                except Exception as exc:  # noqa: BLE001 - never expected; the lease lapses
                    log.error(
                        "outbox.handle_failed", event_id=str(event.id), error=describe_error(exc)
                    )
                    pending.discard(event.id)
                    return
            done.append(outcome)
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
                        pending.difference_update(o.event.id for o in take)
                if finished:
                    return

        renewer = asyncio.create_task(self._renew(pending))
        recorder = asyncio.create_task(committer())
        try:
            async with asyncio.TaskGroup() as group:
                for event in events:
                    group.create_task(one(event))
            finished = True
            ready.set()
            await recorder
        finally:
            for task in (recorder, renewer):
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
        return len(events)

    async def housekeep(self, *, force: bool = False) -> None:
        """Purge old delivered events and expired idempotency keys, at most every few minutes."""
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

        ``once``: deliver what is due now, then return. Returns the events handled.
        """
        started = utcnow() if once else None
        handled = 0
        failures = 0
        log.info("outbox.worker_started", worker=self.worker_id, concurrency=self.concurrency)
        while not stop.is_set():
            try:
                await self.housekeep()
                count = await self.run_batch(due_by=started)
                failures = 0
            except Exception as exc:
                if once:
                    raise
                failures += 1
                count = 0
                log.error("outbox.worker_error", error=describe_error(exc), failures=failures)
            handled += count
            if count:
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
    concurrency: int | None = None,
    once: bool = False,
    worker_id: str | None = None,
) -> int:
    """Run one worker in this process until ``stop`` is set; returns the events handled."""
    load_handlers()
    worker = Worker(db, cache, settings, concurrency=concurrency, worker_id=worker_id)
    if once:
        return await worker.run(stop, once=True)
    # The worker process is also where the audit chain gets sealed: writers only append
    # unsealed entries, so someone must link them, and every deployment runs workers.
    from vaxport.audit.runner import run_sealer

    sealer = asyncio.create_task(run_sealer(db=db, stop=stop))
    try:
        return await worker.run(stop, once=False)
    finally:
        stop.set()
        await sealer
