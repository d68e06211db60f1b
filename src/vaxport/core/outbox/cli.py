"""``vaxport worker`` and ``vaxport outbox stats|dead|redrive``."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import uuid
from collections.abc import Callable, Sequence

import orjson
import typer

from vaxport.core.cli_support import run_with_db
from vaxport.core.outbox import admin
from vaxport.core.outbox.subscriptions import Subscriptions
from vaxport.core.outbox.worker import Companion
from vaxport.settings import UnsafeConfigurationError, get_settings

outbox_app = typer.Typer(
    help="The transactional outbox: backlog, dead letters.", no_args_is_help=True
)


def worker_command(
    subscriptions: Callable[[], Subscriptions],
    companions: Callable[[], Sequence[Companion]] = tuple,
) -> Callable[..., None]:
    """The ``vaxport worker`` command, delivering to what ``subscriptions()`` returns.

    The entry floor passes the composition root's subscriptions and the tasks that run
    beside the worker (``companions()``, e.g. the audit sealer) in: core knows no context.
    """

    def worker(
        concurrency: int | None = typer.Option(
            None,
            min=1,
            max=256,
            help="Subscriber calls run at once (default VAXPORT_OUTBOX_CONCURRENCY).",
        ),
        once: bool = typer.Option(False, "--once", help="Deliver what is due now, then exit."),
        metrics_port: int | None = typer.Option(
            None, min=1, max=65535, help="Serve this worker's Prometheus metrics on this port."
        ),
    ) -> None:
        """Deliver outbox events until SIGTERM/SIGINT (the batch in hand is finished first)."""
        from vaxport.core.cache import cache_from_url
        from vaxport.core.db import database_from_settings
        from vaxport.core.logging import configure_logging
        from vaxport.core.outbox.worker import run_worker

        settings = get_settings()
        try:
            settings.check_safe()
        except UnsafeConfigurationError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from exc
        configure_logging(level=settings.log_level, json=settings.log_json)
        if metrics_port:
            from prometheus_client import start_http_server

            start_http_server(metrics_port)

        async def main() -> int:
            db = database_from_settings()
            cache = cache_from_url(settings.redis_url)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            task = asyncio.current_task()

            def on_signal() -> None:
                # First signal: finish the batch in hand, then exit. Second: stop now (the
                # leases of unfinished events lapse and another worker delivers them).
                if stop.is_set() and task is not None:
                    task.cancel()
                stop.set()

            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, on_signal)
            try:
                return await run_worker(
                    db,
                    cache,
                    settings,
                    stop,
                    subscriptions=subscriptions(),
                    companions=companions(),
                    concurrency=concurrency,
                    once=once,
                )
            finally:
                await cache.close()
                await db.dispose()

        try:
            handled = asyncio.run(main())
        except asyncio.CancelledError as exc:
            raise typer.Exit(130) from exc
        if once:
            typer.echo(f"handled {handled} deliveries")

    return worker


@outbox_app.command("stats")
def stats_command(
    as_json: bool = typer.Option(False, "--json", help="One JSON object instead of a table."),
) -> None:
    """Backlog per subscriber (due, scheduled, leased, dead) and events not yet fanned out."""
    s = run_with_db(lambda db: admin.stats(db=db))
    if as_json:
        typer.echo(orjson.dumps(dataclasses.asdict(s), option=orjson.OPT_SORT_KEYS).decode())
        return
    age = "-" if s.oldest_due_age_seconds is None else f"{s.oldest_due_age_seconds:.1f}s"
    typer.echo(
        f"due {s.due}  scheduled {s.scheduled}  leased {s.leased}  dead {s.dead}  "
        f"delivered {s.delivered}  oldest due {age}"
    )
    typer.echo(f"not yet fanned out: due {s.unpublished_due}  scheduled {s.unpublished_scheduled}")
    if s.by_subscriber:
        typer.echo(
            f"{'subscriber':<40} {'due':>8} {'sched.':>8} {'leased':>8} {'dead':>8} {'oldest':>9}"
        )
        for name, c in s.by_subscriber.items():
            oldest = _seconds(c.oldest_due_age_seconds)
            typer.echo(
                f"{name:<40} {c.due:>8} {c.scheduled:>8} {c.leased:>8} {c.dead:>8} {oldest:>9}"
            )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


@outbox_app.command("dead")
def dead_command(
    limit: int = typer.Option(100, min=1, max=10_000, help="How many to list."),
    event_type: str | None = typer.Option(None, "--type", help="Only this event type."),
    subscriber: str | None = typer.Option(None, "--subscriber", help="Only this subscriber."),
) -> None:
    """List dead letters: event id, subscriber, type, attempts, last error (oldest first)."""
    rows = run_with_db(
        lambda db: admin.list_dead(db=db, limit=limit, event_type=event_type, subscriber=subscriber)
    )
    for row in rows:
        typer.echo(
            f"{row.event_id}  {row.subscriber}  {row.event_type}  attempts={row.attempts}  "
            f"{row.last_error or ''}"
        )
    if not rows:
        typer.echo("no dead-lettered events")


@outbox_app.command("redrive")
def redrive_command(
    ids: list[uuid.UUID] | None = typer.Option(None, "--id", help="A dead event's id (repeat)."),
    all_dead: bool = typer.Option(False, "--all", help="Every dead letter."),
    subscriber: str | None = typer.Option(
        None, "--subscriber", help="Only this subscriber's dead letters."
    ),
) -> None:
    """Deliver dead letters again, with a fresh set of attempts (per subscriber)."""
    if bool(ids) == all_dead:
        typer.echo("give --id ID (one or more) or --all", err=True)
        raise typer.Exit(2)
    count = run_with_db(
        lambda db: admin.redrive(db=db, ids=ids, all_dead=all_dead, subscriber=subscriber)
    )
    typer.echo(f"re-driven {count} deliveries")
