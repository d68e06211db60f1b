"""Bench mode's round-trip counter: every wait for PostgreSQL counts, whatever issued it."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import requires_postgres
from vaxport.core import roundtrips
from vaxport.core.db import Database


@pytest.fixture
async def counted(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=1, max_overflow=0)
    roundtrips.install(database.engine)
    yield database
    await database.dispose()


def _trace(*, capture: bool = False) -> tuple[roundtrips.Trace, Any]:
    trace = roundtrips.Trace(exchanges=[] if capture else None)
    return trace, roundtrips.begin_request(trace)


@requires_postgres
async def test_begin_set_config_prepared_statements_and_commit_each_count_once(
    counted: Database,
) -> None:
    statement = text("SELECT count(*) FROM pg_class WHERE relname = :name")
    async with counted.transaction() as uow:  # warm: connect, prepare once
        await uow.session.execute(statement, {"name": "x"})
    trace, token = _trace(capture=True)
    try:
        async with counted.transaction(tenant_id=uuid.uuid4()) as uow:
            await uow.session.execute(statement, {"name": "pg_class"})
            await uow.session.execute(statement, {"name": "pg_type"})
    finally:
        roundtrips.end_request(token)
    ops = [(op, sql.split(" ")[0].rstrip(";")) for op, sql, _types, _rows in trace.exchanges or []]
    # BEGIN with the tenant's set_config in one message (core/db.py), the cached SELECT
    # twice (no prepare), COMMIT.
    assert ops == [
        ("query", "BEGIN"),
        ("execute", "SELECT"),
        ("execute", "SELECT"),
        ("query", "COMMIT"),
    ]
    assert trace.round_trips == 4
    assert trace.statements == 4


@requires_postgres
async def test_asyncpg_query_logger_misses_the_prepared_statements_sqlalchemy_runs(
    counted: Database,
) -> None:
    """Why the counter sits on the protocol: the connection's query logger sees the
    BEGIN and COMMIT it sends itself, not SQLAlchemy's prepared executions."""
    logged: list[str] = []
    async with counted.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        raw.add_query_logger(lambda record: logged.append(record.query))
        trace, token = _trace()
        try:
            await conn.execute(text("SELECT 1"))
            await conn.execute(text("SELECT 2"))
            await conn.commit()
        finally:
            roundtrips.end_request(token)
    assert not any(q.startswith("SELECT") for q in logged)
    assert [q.split(" ")[0].rstrip(";") for q in logged] == ["BEGIN", "COMMIT"]
    assert trace.round_trips == 6  # BEGIN, prepare + execute twice, COMMIT


@requires_postgres
async def test_executemany_on_raw_asyncpg_is_one_round_trip(counted: Database) -> None:
    async with counted.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        await raw.execute("CREATE TEMP TABLE rt (n int)")
        trace, token = _trace()
        try:
            await raw.executemany("INSERT INTO rt VALUES ($1)", [(i,) for i in range(50)])
            assert await raw.fetchval("SELECT count(*) FROM rt") == 50
        finally:
            roundtrips.end_request(token)
    # executemany: prepare, then 50 Bind/Execute and one Sync; fetchval: prepare + execute.
    assert trace.round_trips == 4
    assert trace.statements == 51


@requires_postgres
async def test_nothing_is_counted_outside_a_request(counted: Database) -> None:
    async with counted.read() as session:
        await session.execute(text("SELECT 1"))
    assert roundtrips.current() is None


def test_literals_are_typed_and_hide_colons_from_pgbench() -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert roundtrips.literal(when, "timestamptz") == (
        "E'2026-01-02T03\\x3a04\\x3a05+00\\x3a00'::timestamptz"
    )
    assert roundtrips.literal("O'Hara", "varchar") == "'O''Hara'::varchar"
    assert roundtrips.literal(b"\x01\xff", "bytea") == "E'\\\\x01ff'::bytea"
    assert roundtrips.literal(None, "uuid") == "NULL"
    assert roundtrips.literal(["a", "b"], "_text") == '\'{"a","b"}\'::_text'
