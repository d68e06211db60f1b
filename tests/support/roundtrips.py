"""Counting a request's round trips to PostgreSQL, as a steady deployment pays them.

A pooled connection prepares each statement once (asyncpg's statement cache) and asks
the server about array types once; the caches in front of the database (an account's
state, a tenant's keys) are refilled now and then by a read of their own. Those costs
are real but amortised: a budget is about what nearly every request pays. So
:class:`RoundTrips` measures attempts until it has a few on warm connections and keeps
the fewest: a refill that lands in one of them (a slow machine crossing a cache's 30 s)
does not count, while a use case that took one more trip would take it every time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from vaxport.core.db import Database

# Each of these asyncpg protocol calls is one exchange with the server.
_EXCHANGES = ("query", "prepare", "bind_execute", "bind_execute_many", "bind", "execute")


class _Counting:
    """Stands for an asyncpg connection's protocol, counting the exchanges it makes."""

    def __init__(self, protocol: Any, counts: list[str]) -> None:
        self._protocol = protocol
        self._counts = counts

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._protocol, name)
        if name not in _EXCHANGES:
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            text = next((a for a in args if isinstance(a, str) and " " in a), "")
            self._counts.append(f"{name}: {' '.join(text.split())[:100]}")
            return attr(*args, **kwargs)

        return counted


@contextmanager
def round_trips(db: Database) -> Iterator[list[str]]:
    """Count the exchanges with the server of every connection checked out meanwhile."""
    counts: list[str] = []

    def checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        driver = dbapi_conn.driver_connection
        if not isinstance(driver._protocol, _Counting):
            driver._protocol = _Counting(driver._protocol, counts)

    def checkin(dbapi_conn: Any, _record: Any) -> None:
        driver = dbapi_conn.driver_connection
        if isinstance(driver._protocol, _Counting):
            driver._protocol = driver._protocol._protocol

    event.listen(db.engine.sync_engine, "checkout", checkout)
    event.listen(db.engine.sync_engine, "checkin", checkin)
    try:
        yield counts
    finally:
        event.remove(db.engine.sync_engine, "checkout", checkout)
        event.remove(db.engine.sync_engine, "checkin", checkin)


def _warm(counts: list[str]) -> bool:
    """No statement prepared, no type asked about: the connection had them all."""
    return not any(c.startswith("prepare") or "typeinfo" in c for c in counts)


class RoundTrips:
    """The fewest round trips among ``samples`` attempts on warm connections.

    Earlier tests may have filled the pool (up to 20 connections, handed out in turn), so
    up to ``tries`` attempts are made to find them::

        meter = RoundTrips(db)
        for attempt in meter.attempts():
            ...  # set up, not counted
            with attempt:
                ...  # the request counted
        assert meter.fewest <= 4, meter.shown
    """

    def __init__(self, db: Database, *, samples: int = 3, tries: int = 40) -> None:
        self.db = db
        self.samples = samples
        self.tries = tries
        self.warm: list[list[str]] = []
        self.last: list[str] = []

    def attempts(self) -> Iterator[_Attempt]:
        """One an attempt, until enough were warm; fails past ``tries``."""
        for _ in range(self.tries):
            attempt = _Attempt(self.db)
            yield attempt
            self.last = attempt.counts
            if _warm(attempt.counts):
                self.warm.append(attempt.counts)
                if len(self.warm) >= self.samples:
                    return
        raise AssertionError(
            f"only {len(self.warm)} of {self.tries} attempts ran on warm connections:\n"
            + "\n".join(self.last)
        )

    @property
    def fewest(self) -> int:
        """The fewest exchanges a warm attempt made."""
        return len(self.best)

    @property
    def best(self) -> list[str]:
        return min(self.warm, key=len)

    @property
    def shown(self) -> str:
        """The best attempt's exchanges, one a line (an assertion's message)."""
        return "\n".join(self.best)


class _Attempt:
    """The part of an attempt that is counted (the rest is set-up)."""

    def __init__(self, db: Database) -> None:
        self.counts: list[str] = []
        self._counting = round_trips(db)

    def __enter__(self) -> list[str]:
        self.counts = self._counting.__enter__()
        return self.counts

    def __exit__(self, *exc: Any) -> None:
        self._counting.__exit__(*exc)
