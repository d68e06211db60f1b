"""Landing page, tenant home, HTML error pages and static files over plain HTTP."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.web.helpers import add_tenant
from vaxport.core.db import Database
from vaxport.web.assets import STATIC_DIR, manifest, static_url

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def html_lang(body: str) -> str:
    m = re.search(r'<html lang="([^"]+)"', body)
    assert m, body[:200]
    return m.group(1)


async def test_landing_lists_every_tenant_with_a_link(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    await add_tenant(clean_db, code="sn", name="Sénégal", locales=["fr", "en"])
    await add_tenant(clean_db, code="ke", name="Kenya", locales=["en", "sw"])
    r = await client.get("/", headers=HTML)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert '<a href="/sn/">' in r.text
    assert "Sénégal" in r.text
    assert '<a href="/ke/">' in r.text
    assert "Kenya" in r.text
    assert r.text.index("/ke/") < r.text.index("/sn/")  # ordered by code


async def test_landing_without_tenants_says_so(client: httpx.AsyncClient) -> None:
    r = await client.get("/")
    assert r.status_code == 200
    assert "No vaccination programme is set up yet." in r.text


async def test_tenant_names_are_escaped(client: httpx.AsyncClient, clean_db: Database) -> None:
    await add_tenant(clean_db, code="xx", name='<script>alert("x")</script>')
    landing = await client.get("/")
    home = await client.get("/xx/")
    for r in (landing, home):
        assert "<script>" not in r.text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in r.text


async def test_tenant_home_renders_in_the_tenant_default_language(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    await add_tenant(clean_db, code="sn", name="Sénégal", locales=["fr", "en"])
    r = await client.get("/sn/", headers=HTML)
    assert r.status_code == 200
    assert html_lang(r.text) == "fr"
    assert "Bienvenue sur le service de vaccination : Sénégal." in r.text
    # The switcher offers the tenant's languages only, each named in itself.
    assert 'href="/sn/?lang=en" lang="en" hreflang="en">English<' in r.text
    assert 'aria-current="true">Français<' in r.text
    assert "Español" not in r.text


async def test_tenant_page_ignores_languages_the_tenant_does_not_offer(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    await add_tenant(clean_db, code="sn", name="Sénégal", locales=["fr", "en"])
    client.cookies.set("lang", "es")
    r = await client.get("/sn/?lang=es", headers={"Accept-Language": "es"})
    assert html_lang(r.text) == "fr"
    assert "set-cookie" not in r.headers


async def test_unknown_tenant_is_an_html_page_for_browsers(client: httpx.AsyncClient) -> None:
    r = await client.get("/nowhere/", headers={**HTML, "Accept-Language": "es"})
    assert r.status_code == 404
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert "Página no encontrada" in r.text
    assert html_lang(r.text) == "es"
    assert "Accept" in r.headers["vary"]


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "*/*",
        "application/json",
        "application/problem+json",
        "text/html;q=0.5, application/json",
    ],
)
async def test_unknown_tenant_is_problem_json_for_api_clients(
    client: httpx.AsyncClient, accept: str | None
) -> None:
    headers = {"Accept": accept} if accept else {}
    r = await client.get("/nowhere/", headers=headers)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 404


async def test_api_paths_stay_problem_json_even_for_browsers(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/nowhere/things", headers=HTML)
    assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("code", ["UPPER", "a" * 40, "-x", "x.y"])
async def test_malformed_tenant_codes_are_404_not_errors(
    client: httpx.AsyncClient, code: str
) -> None:
    r = await client.get(f"/{code}/", headers=HTML)
    assert r.status_code == 404


async def test_unknown_page_with_post_is_405_page_not_500(client: httpx.AsyncClient) -> None:
    r = await client.post("/", headers=HTML, content=b"x=1")
    assert r.status_code == 405
    assert "This request could not be completed" in r.text


async def test_head_of_a_page_has_no_body(client: httpx.AsyncClient) -> None:
    r = await client.head("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"


async def test_static_file_is_immutable_under_its_digest(client: httpx.AsyncClient) -> None:
    url = static_url("css/site.css")
    r = await client.get(url)
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/css; charset=utf-8"
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.content == manifest()["css/site.css"].body
    again = await client.get(url, headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


async def test_static_file_under_a_stale_digest_is_served_but_not_pinned(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/static/0000000000000000/css/site.css")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "path",
    [
        "/static/x/css/nope.css",
        "/static/x/../web/rendering.py",
        "/static/x/%2e%2e/%2e%2e/app.py",
        "/static/x/..%2f..%2fapp.py",
        "/static/x/css/../../rendering.py",
    ],
)
async def test_static_never_serves_files_outside_the_manifest(
    client: httpx.AsyncClient, path: str
) -> None:
    r = await client.get(path, follow_redirects=True)
    assert r.status_code == 404
    assert b"import" not in r.content


async def test_pages_reference_existing_hashed_assets(client: httpx.AsyncClient) -> None:
    body = (await client.get("/")).text
    refs = re.findall(r'(?:href|src)="(/static/[^"]+)"', body)
    assert len(refs) >= 2
    for ref in refs:
        r = await client.get(ref)
        assert r.status_code == 200, ref
        assert r.headers["cache-control"].endswith("immutable"), ref


def test_committed_static_files_are_our_own_not_minified_vendor_code() -> None:
    # Vendor code is served from installed packages (assets.VENDORED), never committed.
    for rel, asset in manifest().items():
        if rel.startswith("vendor/"):
            assert not (STATIC_DIR / rel).exists(), rel
            continue
        assert ".min." not in rel
        if rel.endswith((".css", ".js")):
            longest = max(len(line) for line in asset.body.decode().splitlines())
            assert longest < 200, f"{rel} looks minified"
