"""Operational endpoints are not public in production (issue 12, finding 9)."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import event

from tests.conftest import PARTS
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.settings import Settings


async def _client(settings: Settings, db: Database, cache: Cache) -> httpx.AsyncClient:
    from vaxport.app import create_app

    app = create_app(settings, parts=PARTS, database=db, cache=cache)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


def test_docs_are_off_in_production_unless_enabled(settings: Settings) -> None:
    assert settings.api_docs_enabled  # tests and development keep them
    prod = settings.model_copy(update={"env": "production"})
    assert not prod.api_docs_enabled
    assert prod.model_copy(update={"api_docs": True}).api_docs_enabled


async def test_docs_turned_off_are_not_served(
    settings: Settings, clean_db: Database, cache: Cache
) -> None:
    # (A production app cannot start on test settings; the switch is the same one.)
    off = settings.model_copy(update={"api_docs": False})
    async with await _client(off, clean_db, cache) as client:
        for path in ("/api/docs", "/api/openapi.json"):
            assert (await client.get(path)).status_code == 404, path


async def test_metrics_want_the_token_and_do_not_query_per_scrape(
    settings: Settings, clean_db: Database, cache: Cache
) -> None:
    secret: Any = "s3cret-metrics-token"
    prod = settings.model_copy(update={"metrics_token": SecretStr(secret)})
    async with await _client(prod, clean_db, cache) as client:
        assert (await client.get("/metrics")).status_code == 401
        wrong = {"authorization": "Bearer nope"}
        assert (await client.get("/metrics", headers=wrong)).status_code == 401
        good = {"authorization": f"Bearer {secret}"}
        assert (await client.get("/metrics", headers=good)).status_code == 200
        assert await _statements_of_five_scrapes(client, clean_db, good) == []


async def _statements_of_five_scrapes(
    client: httpx.AsyncClient, db: Database, headers: dict[str, str]
) -> list[str]:
    """The SQL statements five more scrapes ran (each must answer 200 with metrics)."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        for _ in range(5):
            resp = await client.get("/metrics", headers=headers)
            assert resp.status_code == 200
            assert b"vaxport_" in resp.content
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    return statements


def _production(settings: Settings, **update: Any) -> Settings:
    """``settings`` as ``VAXPORT_ENV=production`` accepts them (the app's database and
    cache are the test's own; only the settings' names of them are production-like)."""
    prod = settings.model_copy(
        update={
            "env": "production",
            "database_url": "postgresql+asyncpg://app@db.invalid/vaxport",
            "redis_url": "redis://cache.invalid:6379/0",
            "key_provider": "local",
            "allow_local_keys_in_production": True,
            "secret_key": SecretStr("p" * 48),
            "debug": False,
            **update,
        }
    )
    assert prod.unsafe_problems() == []
    return prod


async def test_in_production_metrics_are_404_without_a_token_and_200_with_it_without_sql(
    settings: Settings, clean_db: Database, cache: Cache
) -> None:
    # No token configured: the endpoint does not exist, whatever the caller sends.
    async with await _client(_production(settings), clean_db, cache) as client:
        for headers in ({}, {"authorization": "Bearer anything"}):
            resp = await client.get("/metrics", headers=headers)
            assert resp.status_code == 404, headers
            assert "problem+json" in resp.headers["content-type"]
            assert b"vaxport_" not in resp.content
    secret = "prod-metrics-token-" + "x" * 16
    prod = _production(settings, metrics_token=SecretStr(secret))
    good = {"authorization": f"Bearer {secret}"}
    async with await _client(prod, clean_db, cache) as client:
        assert (await client.get("/metrics")).status_code == 401
        # The first scrape may read the outbox gauges once; the next ones must not query.
        assert (await client.get("/metrics", headers=good)).status_code == 200
        assert await _statements_of_five_scrapes(client, clean_db, good) == []
