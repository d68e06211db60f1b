"""A real ``vaxport`` process for tests: registers a test handler, then runs the CLI.

Run as ``python -m tests.core.outbox_worker_proc worker ...``. The handler records each
run (worker pid, wall-clock start/end) in the test table, sleeping
``OUTBOX_TEST_SLEEP`` seconds in between so a test can signal or kill it mid-batch.
"""

from __future__ import annotations

import asyncio
import os

from tests.core.outbox_support import finish_run, record_run
from vaxport.core.outbox import Event, HandlerContext, handler


@handler("test.slow")
async def slow(event: Event, ctx: HandlerContext) -> None:
    run_id = await record_run(ctx.db, event, f"pid:{os.getpid()}")
    await asyncio.sleep(float(os.environ.get("OUTBOX_TEST_SLEEP", "0")))
    await finish_run(ctx.db, run_id)


if __name__ == "__main__":
    from vaxport.cli import main

    main()
