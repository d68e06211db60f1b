"""Which language a page speaks: ?lang= > cookie > Accept-Language > default."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from tests.web.helpers import add_tenant
from vaxport.core.db import Database


def html_lang(body: str) -> str:
    m = re.search(r'<html lang="([^"]+)"', body)
    assert m
    return m.group(1)


@pytest.mark.parametrize(
    ("header", "lang", "h1"),
    [
        ("fr-FR,fr;q=0.9,en;q=0.8", "fr", "Programmes de vaccination"),
        ("es-MX", "es", "Programas de vacunación"),
        ("de, fr;q=0.4, es;q=0.6", "es", "Programas de vacunación"),
        ("de-DE, ja", "en", "Vaccination programmes"),
        ("fr;q=0, es;q=0.1", "es", "Programas de vacunación"),
        (";;;,,q=,*;q=x,\x7f", "en", "Vaccination programmes"),
    ],
)
async def test_accept_language_picks_the_best_available_language(
    client: httpx.AsyncClient, header: str, lang: str, h1: str
) -> None:
    r = await client.get("/", headers={"Accept-Language": header})
    assert r.status_code == 200
    assert html_lang(r.text) == lang
    assert f"<h1>{h1}</h1>" in r.text
    assert r.headers["content-language"] == lang
    assert r.headers["vary"] == "Accept-Language, Cookie"
    assert "set-cookie" not in r.headers  # only an explicit choice is remembered


async def test_explicit_choice_sets_a_lax_httponly_cookie(client: httpx.AsyncClient) -> None:
    r = await client.get("/?lang=es", headers={"Accept-Language": "fr"})
    assert html_lang(r.text) == "es"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("lang=es;")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/" in cookie
    assert "Max-Age=31536000" in cookie
    assert "Secure" not in cookie  # plain-HTTP test server; set under HTTPS


async def test_cookie_beats_accept_language_and_explicit_beats_cookie(
    client: httpx.AsyncClient,
) -> None:
    client.cookies.set("lang", "fr")
    r = await client.get("/", headers={"Accept-Language": "es"})
    assert html_lang(r.text) == "fr"
    r = await client.get("/?lang=en", headers={"Accept-Language": "es"})
    assert html_lang(r.text) == "en"
    assert r.headers["set-cookie"].startswith("lang=en;")


@pytest.mark.parametrize("value", ["zz", "", "fr;q=1", "<x>", "f" * 300])
async def test_unusable_choice_is_ignored_not_remembered(
    client: httpx.AsyncClient, value: str
) -> None:
    r = await client.get("/", params={"lang": value}, headers={"Accept-Language": "fr"})
    assert r.status_code == 200
    assert html_lang(r.text) == "fr"
    assert "set-cookie" not in r.headers


async def test_regional_choice_falls_back_to_its_language(client: httpx.AsyncClient) -> None:
    r = await client.get("/?lang=fr-CA")
    assert html_lang(r.text) == "fr"
    assert r.headers["set-cookie"].startswith("lang=fr;")


async def test_switch_links_keep_other_query_parameters(client: httpx.AsyncClient) -> None:
    r = await client.get("/?page=2&lang=fr")
    assert 'href="/?page=2&amp;lang=es"' in r.text


async def test_tenant_page_uses_cookie_when_the_tenant_offers_it(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    await add_tenant(clean_db, code="ca", name="Canada", locales=["en", "fr"])
    client.cookies.set("lang", "fr")
    r = await client.get("/ca/")
    assert html_lang(r.text) == "fr"
    assert "Bienvenue sur le service de vaccination : Canada." in r.text


async def test_tenant_language_without_catalog_keeps_its_tag_and_falls_back_to_source(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    await add_tenant(clean_db, code="ke", name="Kenya", locales=["sw", "en"])
    r = await client.get("/ke/")
    assert html_lang(r.text) == "sw"
    assert 'lang="sw" hreflang="sw" aria-current="true">Kiswahili<' in r.text


async def test_concurrent_requests_each_get_their_own_language(
    client: httpx.AsyncClient,
) -> None:
    langs = ["en", "fr", "es"] * 10

    async def fetch(lang: str) -> tuple[str, str]:
        r = await client.get("/", headers={"Accept-Language": lang})
        return lang, r.text

    for lang, body in await asyncio.gather(*(fetch(lang) for lang in langs)):
        assert html_lang(body) == lang
        assert {"en": "Skip to main content", "fr": "Aller au", "es": "Saltar al"}[lang] in body


async def test_babel_style_tenant_locales_become_bcp47_on_the_page(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    await add_tenant(clean_db, code="br", name="Brasil", locales=["pt_BR", "en"])
    r = await client.get("/br/")
    assert html_lang(r.text) == "pt-BR"
    assert r.headers["content-language"] == "pt-BR"
    assert 'href="/br/?lang=pt-BR" lang="pt-BR"' in r.text
    r = await client.get("/br/?lang=pt_br")
    assert r.headers["set-cookie"].startswith("lang=pt-BR;")
