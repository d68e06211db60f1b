"""Client address and scheme from proxy headers (trusted peers only), and the HTTPS policy."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from tests.core.http.ratelimit_support import client, drop_keys, unique_prefix
from vaxport.app import create_app
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.http.dependencies import requires
from vaxport.core.http.transport import ProxyHeaders, normalise_ip
from vaxport.settings import Settings

PROXY = "10.1.2.3"


def _app(settings: Settings, db: Database, cache: Cache, **changes: Any) -> FastAPI:
    app = create_app(settings.model_copy(update=changes), database=db, cache=cache)

    @app.get("/api/v1/{tenant}/whoami", dependencies=[requires("t:who", public=True)])
    async def whoami(tenant: str, request: Request) -> dict[str, str]:
        assert request.client is not None
        return {"ip": request.client.host, "scheme": request.url.scheme}

    return app


async def _whoami(app: FastAPI, peer: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    async with client(app, peer) as c:
        r = await c.get("/api/v1/demo/whoami", headers=headers or {})
        assert r.status_code == 200, r.text
        result: dict[str, str] = r.json()
        return result


async def test_forwarded_headers_from_an_untrusted_peer_are_ignored(
    settings: Settings, clean_db: Database, cache: Cache
) -> None:
    app = _app(settings, clean_db, cache, trusted_proxies=["10.0.0.0/8"])
    spoof = {"x-forwarded-for": "1.2.3.4", "x-forwarded-proto": "https", "forwarded": "for=1.2.3.4"}
    assert await _whoami(app, "198.51.100.20", spoof) == {"ip": "198.51.100.20", "scheme": "http"}
    # No trusted proxies configured: nobody's headers count.
    plain = _app(settings, clean_db, cache)
    assert await _whoami(plain, PROXY, spoof) == {"ip": PROXY, "scheme": "http"}


@pytest.mark.parametrize(
    ("xff", "expected"),
    [
        ("203.0.113.9", "203.0.113.9"),
        # The client prepended a forged hop; the first untrusted hop from the right wins.
        ("198.51.100.1, 203.0.113.9", "203.0.113.9"),
        ("198.51.100.1, 203.0.113.9, 10.9.9.9", "203.0.113.9"),  # through a second proxy
        ("10.7.7.7, 10.8.8.8", "10.7.7.7"),  # all trusted: the farthest one
        ("203.0.113.9:51234", "203.0.113.9"),  # a port some balancers add
        ("[2001:db8::7]:443", "2001:db8::7"),
        ("2001:DB8:0:0::8", "2001:db8::8"),
        ("::ffff:203.0.113.10", "203.0.113.10"),
        ("203.0.113.9, not-an-address", PROXY),  # junk: nothing beyond it is knowable
        ("", PROXY),
    ],
)
async def test_a_trusted_proxy_names_the_client(
    settings: Settings, clean_db: Database, cache: Cache, xff: str, expected: str
) -> None:
    app = _app(settings, clean_db, cache, trusted_proxies=["10.0.0.0/8"])
    got = await _whoami(app, PROXY, {"x-forwarded-for": xff, "x-forwarded-proto": "https"})
    assert got == {"ip": expected, "scheme": "https"}


async def test_rfc7239_forwarded_is_read_only_when_chosen(
    settings: Settings, clean_db: Database, cache: Cache
) -> None:
    headers = {
        "forwarded": 'for=198.51.100.1;proto=http, for="[2001:db8::1]:4711";proto=https',
        "x-forwarded-for": "203.0.113.50",
        "x-forwarded-proto": "http",
    }
    app = _app(settings, clean_db, cache, trusted_proxies=[PROXY], forwarded_header="forwarded")
    assert await _whoami(app, PROXY, headers) == {"ip": "2001:db8::1", "scheme": "https"}
    xff = _app(settings, clean_db, cache, trusted_proxies=[PROXY])
    assert await _whoami(xff, PROXY, headers) == {"ip": "203.0.113.50", "scheme": "http"}


def test_forwarded_parsing_handles_quotes_hidden_hops_and_case() -> None:
    proxies = ProxyHeaders(["192.0.2.0/24"], header="forwarded")

    def resolve(value: str) -> tuple[str, str] | None:
        scope = {"client": ("192.0.2.1", 1), "headers": [(b"forwarded", value.encode())]}
        return proxies.resolve(scope)

    assert resolve('For="198.51.100.17";Proto=HTTPS') == ("198.51.100.17", "https")
    assert resolve("for=_hidden, for=192.0.2.60") == ("192.0.2.60", "http")
    assert resolve("for=unknown") == ("192.0.2.1", "http")
    assert resolve('for="198.51.100.1, spoof";proto=https') == ("192.0.2.1", "https")
    assert normalise_ip("bogus") is None


async def test_rate_limits_count_the_client_behind_the_proxy(
    settings: Settings, clean_db: Database, cache: Cache
) -> None:
    prefix = unique_prefix()
    app = _app(
        settings,
        clean_db,
        cache,
        trusted_proxies=[PROXY],
        rate_limit_default_ip="1/minute",
        rate_limit_prefix=prefix,
    )
    try:
        async with client(app, PROXY) as c:
            url = "/api/v1/demo/whoami"
            assert (await c.get(url, headers={"x-forwarded-for": "203.0.113.1"})).status_code == 200
            assert (await c.get(url, headers={"x-forwarded-for": "203.0.113.2"})).status_code == 200
            assert (await c.get(url, headers={"x-forwarded-for": "203.0.113.1"})).status_code == 429
        # A direct caller cannot buy a new budget with a forged header.
        async with client(app, "198.51.100.3") as c:
            assert (await c.get(url, headers={"x-forwarded-for": "203.0.113.3"})).status_code == 200
            assert (await c.get(url, headers={"x-forwarded-for": "203.0.113.4"})).status_code == 429
    finally:
        await drop_keys(prefix)


async def _plain(app: FastAPI, method: str, url: str, **kw: Any) -> httpx.Response:
    async with client(app, "198.51.100.9", base="http://vax.example.org") as c:
        return await c.request(method, url, **kw)


async def test_forced_https_redirects_pages_and_refuses_plain_api_calls(
    settings: Settings, clean_db: Database, cache: Cache
) -> None:
    app = _app(settings, clean_db, cache, force_https=True)
    r = await _plain(app, "GET", "/demo/?lang=fr")
    assert r.status_code == 301
    assert r.headers["location"] == "https://vax.example.org/demo/?lang=fr"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in r.headers  # never over plain HTTP
    r = await _plain(app, "POST", "/demo/login", data={"a": "b"})
    assert r.status_code == 308  # keeps the method and body
    assert r.headers["location"] == "https://vax.example.org/demo/login"
    for path in ("/api/v1/demo/whoami", "/fhir/demo/Patient"):
        r = await _plain(app, "GET", path)
        assert r.status_code == 421
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/https-required")
        assert "location" not in r.headers
    # Probes and scrapers reach replicas directly, over plain HTTP.
    for path in ("/healthz", "/metrics"):
        assert (await _plain(app, "GET", path)).status_code == 200


async def test_forced_https_trusts_the_scheme_only_from_trusted_proxies(
    settings: Settings, clean_db: Database, cache: Cache
) -> None:
    app = _app(settings, clean_db, cache, force_https=True, trusted_proxies=[PROXY])
    https = {"x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.1"}
    async with client(app, PROXY) as c:
        r = await c.get("/api/v1/demo/whoami", headers=https)
        assert r.status_code == 200
        assert r.json() == {"ip": "203.0.113.1", "scheme": "https"}
        assert r.headers["strict-transport-security"].startswith("max-age=")
    async with client(app, "198.51.100.9") as c:
        assert (await c.get("/api/v1/demo/whoami", headers=https)).status_code == 421


async def test_redirects_go_to_the_public_https_origin_when_configured(
    settings: Settings, clean_db: Database, cache: Cache
) -> None:
    app = _app(
        settings, clean_db, cache, force_https=True, public_url="https://vaccinate.gov.example"
    )
    r = await _plain(app, "GET", "/demo/", headers={"host": "evil.example"})
    assert r.headers["location"] == "https://vaccinate.gov.example/demo/"
    bare = _app(settings, clean_db, cache, force_https=True)
    r = await _plain(bare, "GET", "/demo/", headers={"host": "bad host/x"})
    assert r.status_code == 421  # nowhere sane to send it
