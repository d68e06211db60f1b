"""Helpers for command-line entry points: run a coroutine on a configured database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from vaxport.core.db import Database, database_from_settings

T = TypeVar("T")


def run_with_db(fn: Callable[[Database], Awaitable[T]]) -> T:
    """Open the configured database, run ``fn(db)`` to completion, close the pool."""

    async def main() -> T:
        db = database_from_settings()
        try:
            return await fn(db)
        finally:
            await db.dispose()

    return asyncio.run(main())
