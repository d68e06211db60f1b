"""Rate limits: per IP and per account, by route class, with headers, 429s and failure policy.

On the Redis leg the limiter stores its windows in the test Redis under a unique prefix;
otherwise in process memory. Both run the same assertions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY

from tests.conftest import REDIS_URL
from tests.core.http.ratelimit_support import (
    build_app,
    client,
    closed_port,
    drop_keys,
    unique_prefix,
)
from tests.support.tenants import load_tenant
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.settings import Settings

LOGIN = "/api/v1/demo/t/login"


@pytest.fixture
async def rl(settings: Settings) -> AsyncIterator[Settings]:
    """Settings with this test's own rate-limit key prefix (removed from Redis after)."""
    prefix = unique_prefix()
    yield settings.model_copy(update={"rate_limit_prefix": prefix})
    await drop_keys(prefix)


async def test_a_class_allows_its_limit_per_ip_then_answers_429(
    rl: Settings, clean_db: Database, cache: Cache
) -> None:
    app = build_app(rl, clean_db, cache, rate_limit_login_ip="3/minute")
    async with client(app, "203.0.113.5") as c, client(app, "203.0.113.6") as other:
        remaining = []
        for _ in range(3):
            r = await c.post(LOGIN, json={"u": "x"})
            assert r.status_code == 200
            assert r.headers["ratelimit-limit"] == "3"
            assert 0 < int(r.headers["ratelimit-reset"]) <= 60
            remaining.append(r.headers["ratelimit-remaining"])
        assert remaining == ["2", "1", "0"]

        r = await c.post(LOGIN, json={"u": "x"})
        assert r.status_code == 429
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["status"] == 429
        assert body["type"].endswith("/rate-limited")
        assert body["instance"] == LOGIN
        retry = int(r.headers["retry-after"])
        assert 0 < retry <= 60
        assert body["retry_after"] == retry
        assert r.headers["ratelimit-limit"] == "3"
        assert r.headers["ratelimit-remaining"] == "0"
        assert r.headers["ratelimit-reset"] == str(retry)
        assert r.headers["x-request-id"]
        assert r.headers["x-content-type-options"] == "nosniff"

        # Another address has its own budget; another class is not touched.
        assert (await other.post(LOGIN, json={"u": "x"})).status_code == 200
        assert (await c.get("/api/v1/demo/t/search")).status_code == 200


async def test_the_limit_acts_before_the_body_is_read(
    rl: Settings, clean_db: Database, cache: Cache
) -> None:
    app = build_app(rl, clean_db, cache, rate_limit_login_ip="1/minute")
    async with client(app) as c:
        assert (await c.post(LOGIN, content=b"{not json")).status_code == 422
        # Refused before parsing: the same malformed body is a 429, not a 422.
        assert (await c.post(LOGIN, content=b"{not json")).status_code == 429


async def test_a_signed_in_account_has_its_own_limit_wherever_it_comes_from(
    rl: Settings, clean_db: Database, cache: Cache
) -> None:
    app = build_app(
        rl, clean_db, cache, rate_limit_write_account="2/minute", rate_limit_write_ip="100/minute"
    )
    url = "/api/v1/demo/t/things"
    alice = {"x-test-principal": "0190a1b2-0000-7000-8000-00000000000a"}
    bob = {"x-test-principal": "0190a1b2-0000-7000-8000-00000000000b"}
    async with client(app, "192.0.2.1") as c1, client(app, "192.0.2.2") as c2:
        assert (await c1.post(url, headers=alice)).status_code == 200
        r = await c2.post(url, headers=alice)  # same account, another address
        assert r.status_code == 200
        assert r.headers["ratelimit-limit"] == "2"  # the tighter of ip (100) and account (2)
        assert r.headers["ratelimit-remaining"] == "0"
        r = await c1.post(url, headers=alice)
        assert r.status_code == 429
        assert r.headers["ratelimit-limit"] == "2"
        # Bob from the same address, and anonymous callers, are unaffected.
        assert (await c1.post(url, headers=bob)).status_code == 200
        r = await c1.post(url)
        assert r.status_code == 200
        assert r.headers["ratelimit-limit"] == "100"
        assert r.headers["ratelimit-remaining"] == "96"  # the address counted every request


async def test_the_ip_limit_also_binds_signed_in_callers(
    rl: Settings, clean_db: Database, cache: Cache
) -> None:
    app = build_app(
        rl, clean_db, cache, rate_limit_write_account="100/minute", rate_limit_write_ip="2/minute"
    )
    url = "/api/v1/demo/t/things"
    async with client(app) as c:
        for n in range(3):
            r = await c.post(url, headers={"x-test-principal": f"p{n}"})
        assert r.status_code == 429


async def test_an_unlimited_class_carries_no_headers_and_a_disabled_limiter_nothing(
    rl: Settings, clean_db: Database, cache: Cache
) -> None:
    app = build_app(
        rl, clean_db, cache, rate_limit_public_search_ip="unlimited", rate_limit_login_ip="1/hour"
    )
    async with client(app) as c:
        r = await c.get("/api/v1/demo/t/search")
        assert r.status_code == 200
        assert "ratelimit-limit" not in r.headers
    off = build_app(rl, clean_db, cache, rate_limit_enabled=False, rate_limit_login_ip="1/hour")
    async with client(off) as c:
        for _ in range(3):
            r = await c.post(LOGIN, json={})
            assert r.status_code == 200
            assert "ratelimit-limit" not in r.headers


async def test_a_tenant_overrides_a_class_for_its_own_paths(
    rl: Settings, clean_db: Database, cache: Cache
) -> None:
    strict = await load_tenant(
        clean_db, cache, changes={"rate_limits": {"login": {"ip": "1/minute"}}}
    )
    plain = await load_tenant(clean_db, cache)
    app = build_app(rl, clean_db, cache, rate_limit_login_ip="3/minute")
    async with client(app) as c:
        url = f"/api/v1/{strict.code}/t/login"
        r = await c.post(url, json={})
        assert r.status_code == 200
        assert r.headers["ratelimit-limit"] == "1"
        assert (await c.post(url, json={})).status_code == 429
        # The other tenant keeps the default, with counters of its own.
        for _ in range(3):
            r = await c.post(f"/api/v1/{plain.code}/t/login", json={})
            assert r.status_code == 200
            assert r.headers["ratelimit-limit"] == "3"
        assert (await c.post(f"/api/v1/{plain.code}/t/login", json={})).status_code == 429


async def test_invented_tenant_codes_share_one_budget(
    rl: Settings, clean_db: Database, cache: Cache
) -> None:
    app = build_app(rl, clean_db, cache, rate_limit_login_ip="2/minute")
    async with client(app) as c:
        assert (await c.post("/api/v1/nope-a/t/login", json={})).status_code == 200
        assert (await c.post("/api/v1/nope-b/t/login", json={})).status_code == 200
        assert (await c.post("/api/v1/nope-c/t/login", json={})).status_code == 429


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_an_unreachable_store_fails_closed_for_credentials_and_open_otherwise(
    rl: Settings, clean_db: Database, cache: Cache
) -> None:
    down = f"redis://127.0.0.1:{closed_port()}/0"
    app = build_app(rl, clean_db, cache, redis_url=down)
    closed = "vaxport_rate_limit_store_errors_total"
    before = {
        c: _metric(closed, route_class=c, outcome=o)
        for c, o in (("login", "closed"), ("code_request", "closed"), ("write", "open"))
    }
    async with client(app) as c:
        for url in (LOGIN, "/api/v1/demo/t/codes"):
            r = await c.post(url, json={})
            assert r.status_code == 503
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["type"].endswith("/unavailable")
            assert int(r.headers["retry-after"]) > 0
        r = await c.post("/api/v1/demo/t/things")
        assert r.status_code == 200
        assert "ratelimit-limit" not in r.headers
    assert _metric(closed, route_class="login", outcome="closed") == before["login"] + 1
    assert _metric(closed, route_class="code_request", outcome="closed") == (
        before["code_request"] + 1
    )
    assert _metric(closed, route_class="write", outcome="open") == before["write"] + 1
    await app.state.rate_limiter.close()


async def test_a_browser_gets_its_429_as_a_page(
    rl: Settings, clean_db: Database, cache: Cache
) -> None:
    app = build_app(rl, clean_db, cache, rate_limit_default_ip="1/minute")
    html = {"accept": "text/html"}
    async with client(app) as c:
        assert (await c.get("/", headers=html)).status_code == 200
        r = await c.get("/", headers=html)
        assert r.status_code == 429
        assert r.headers["content-type"].startswith("text/html")
        assert "retry-after" in r.headers
        assert "<html" in r.text


@pytest.mark.skipif(not REDIS_URL, reason="VAXPORT_TEST_REDIS_URL is not set (Redis leg only)")
async def test_windows_live_in_redis_under_the_configured_prefix(
    rl: Settings, clean_db: Database, cache: Cache
) -> None:
    import redis.asyncio as aioredis

    app = build_app(rl, clean_db, cache, rate_limit_login_ip="5/minute")
    async with client(app, "203.0.113.77") as c:
        await c.post(LOGIN, json={})
    r = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [k.decode() async for k in r.scan_iter(match=f"{rl.rate_limit_prefix}:*")]
    finally:
        await r.aclose()
    assert len(keys) == 1
    assert "login/ip/-/" in keys[0]
    assert "203.0.113.77" not in keys[0]  # addresses are stored as keyed hashes
    await app.state.rate_limiter.close()
