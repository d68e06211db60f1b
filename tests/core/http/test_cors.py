"""CORS: only the configured origins, credentials only when configured, preflights."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.core.http.ratelimit_support import build_app, client, drop_keys, unique_prefix
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.settings import Settings

APP_ORIGIN = "https://app.vax.example"
URL = "/api/v1/demo/t/things"


def _preflight(origin: str, method: str = "POST", headers: str = "content-type") -> dict[str, str]:
    return {
        "origin": origin,
        "access-control-request-method": method,
        "access-control-request-headers": headers,
    }


@pytest.fixture
async def rl(settings: Settings) -> AsyncIterator[Settings]:
    prefix = unique_prefix()
    yield settings.model_copy(update={"rate_limit_prefix": prefix})
    await drop_keys(prefix)


async def test_a_listed_origin_may_call_and_read_the_rate_limit_headers(
    rl: Settings, clean_db: Database, cache: Cache
) -> None:
    app = build_app(rl, clean_db, cache, cors_origins=[APP_ORIGIN])
    async with client(app) as c:
        r = await c.post(URL, headers={"origin": APP_ORIGIN})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == APP_ORIGIN
        assert "access-control-allow-credentials" not in r.headers
        exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
        assert {"ratelimit-remaining", "retry-after", "x-request-id"} <= exposed

        r = await c.post(URL, headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


async def test_preflights_answer_for_listed_origins_methods_and_headers_only(
    rl: Settings, clean_db: Database, cache: Cache
) -> None:
    app = build_app(rl, clean_db, cache, cors_origins=[APP_ORIGIN], rate_limit_write_ip="1/hour")
    async with client(app) as c:
        r = await c.options(
            URL, headers=_preflight(APP_ORIGIN, headers="idempotency-key, authorization")
        )
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == APP_ORIGIN
        assert "POST" in r.headers["access-control-allow-methods"]
        assert "idempotency-key" in r.headers["access-control-allow-headers"].lower()
        assert r.headers["access-control-max-age"] == "600"

        r = await c.options(URL, headers=_preflight("https://evil.example"))
        assert r.status_code == 400
        assert "access-control-allow-origin" not in r.headers
        r = await c.options(URL, headers=_preflight(APP_ORIGIN, headers="x-evil"))
        assert r.status_code == 400
        r = await c.options(URL, headers=_preflight(APP_ORIGIN, method="TRACE"))
        assert r.status_code == 400

        # Preflights spend no rate limit, and a 429 still tells the page why.
        assert (await c.post(URL, headers={"origin": APP_ORIGIN})).status_code == 200
        r = await c.post(URL, headers={"origin": APP_ORIGIN})
        assert r.status_code == 429
        assert r.headers["access-control-allow-origin"] == APP_ORIGIN


async def test_credentials_only_when_configured(
    rl: Settings, clean_db: Database, cache: Cache
) -> None:
    app = build_app(rl, clean_db, cache, cors_origins=[APP_ORIGIN], cors_allow_credentials=True)
    async with client(app) as c:
        r = await c.options(URL, headers=_preflight(APP_ORIGIN))
        assert r.headers["access-control-allow-credentials"] == "true"
        r = await c.post(URL, headers={"origin": APP_ORIGIN})
        assert r.headers["access-control-allow-credentials"] == "true"


async def test_without_configured_origins_there_is_no_cors_at_all(
    rl: Settings, clean_db: Database, cache: Cache
) -> None:
    app = build_app(rl, clean_db, cache)
    async with client(app) as c:
        r = await c.post(URL, headers={"origin": APP_ORIGIN})
        assert r.status_code == 200
        assert not [h for h in r.headers if h.startswith("access-control-")]
        r = await c.options(URL, headers=_preflight(APP_ORIGIN))
        assert r.status_code == 405
        assert "access-control-allow-origin" not in r.headers
