"""A real ``vaxport worker`` process for tests, delivering to a test subscriber.

Run as ``python -m tests.core.outbox_worker_proc worker ...``. The subscriber
(``test.slow-sub``) records each run (worker pid, wall-clock start/end) in the test
table, sleeping ``OUTBOX_TEST_SLEEP`` seconds in between so a test can signal or kill it
mid-batch. With ``OUTBOX_TEST_SECOND=1`` a second subscriber (``test.quick-sub``) records
its runs under ``quick:<pid>`` without sleeping. The command is the real one, given
these subscriptions instead of the composition root's.
"""

from __future__ import annotations

import asyncio
import os

import typer

from tests.core.outbox_support import finish_run, record_run
from vaxport.core.outbox import Event, HandlerContext, Subscriber, Subscriptions
from vaxport.core.outbox.cli import worker_command


async def slow(event: Event, ctx: HandlerContext) -> None:
    run_id = await record_run(ctx.db, event, f"pid:{os.getpid()}")
    await asyncio.sleep(float(os.environ.get("OUTBOX_TEST_SLEEP", "0")))
    await finish_run(ctx.db, run_id)


async def quick(event: Event, ctx: HandlerContext) -> None:
    await finish_run(ctx.db, await record_run(ctx.db, event, f"quick:{os.getpid()}"))


def subscriptions() -> Subscriptions:
    subs = [Subscriber.each("test.slow-sub", ["test.slow"], slow)]
    if os.environ.get("OUTBOX_TEST_SECOND") == "1":
        subs.append(Subscriber.each("test.quick-sub", ["test.slow"], quick))
    return Subscriptions(subs)


app = typer.Typer()
app.command("worker")(worker_command(subscriptions))
app.command("noop", hidden=True)(lambda: None)  # a group, so "worker" stays a sub-command

if __name__ == "__main__":
    app()
