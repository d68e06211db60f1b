"""Helpers for command-line entry points: run a coroutine on a configured database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from vaxport.core.db import Database, database_from_settings

T = TypeVar("T")


def run_with_db(fn: Callable[[Database], Awaitable[T]], *, url: str | None = None) -> T:
    """Open the configured database (or ``url``), run ``fn(db)`` to completion, close it."""

    async def main() -> T:
        db = Database(url, pool_size=2, max_overflow=0) if url else database_from_settings()
        try:
            return await fn(db)
        finally:
            await db.dispose()

    return asyncio.run(main())
