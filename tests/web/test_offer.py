"""Honest pages: the landing page and a tenant's home list what exists, nothing more."""

from __future__ import annotations

import dataclasses
import re

import httpx
from fastapi import APIRouter
from starlette.responses import PlainTextResponse

from tests.support.parts import PARTS
from tests.support.tenants import load_tenant
from vaxport.app import create_app
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.http.dependencies import requires
from vaxport.settings import Settings
from vaxport.web.router import build_router


def _offers(body: str) -> list[tuple[str, str]]:
    block = body.split('<ul class="offer-list">', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'<a href="([^"]+)">([^<]+)</a>', block)


async def test_tenant_home_lists_the_features_that_exist_and_the_vaccines_it_offers(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    await load_tenant(clean_db, code="dm", changes={"family": {"max_beneficiaries_per_account": 6}})
    r = await client.get("/dm/?lang=en")
    assert _offers(r.text) == [
        ("/dm/sign-in", "Sign in"),
        ("/dm/family", "Register your family"),
        ("/dm/facilities", "Find a centre"),
        ("/dm/certificates", "Vaccination certificates"),
        ("/verify", "Check a certificate"),
    ]
    assert "up to 6 people on one account" in r.text
    assert '<a href="/dm/staff/login">Staff sign-in</a>' in r.text
    assert "Vaccines in this programme" in r.text
    # Nothing the product cannot do yet is promised (no booking page is wired).
    for word in ("book", "Book", "appointment"):
        assert word not in r.text, word


async def test_a_tenant_without_certificate_formats_is_not_offered_certificates(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    await load_tenant(clean_db, code="dm", changes={"certificates": {"formats": []}})
    r = await client.get("/dm/?lang=en")
    offered = [url for url, _ in _offers(r.text)]
    assert "/dm/certificates" not in offered
    assert "/verify" in offered  # anyone's certificate can still be checked
    assert "Vaccination certificates" not in r.text


async def test_a_tenant_of_single_people_is_not_offered_family_registration(
    client: httpx.AsyncClient, clean_db: Database
) -> None:
    await load_tenant(
        clean_db, code="solo", changes={"family": {"max_beneficiaries_per_account": 1}}
    )
    r = await client.get("/solo/?lang=en")
    assert [url for url, _ in _offers(r.text)] == [
        "/solo/sign-in",
        "/solo/facilities",
        "/solo/certificates",
        "/verify",
    ]


async def test_landing_names_the_features_the_installation_serves_without_promising_booking(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/?lang=en")
    names = re.findall(r"<li>([^<]+)</li>", r.text.split('class="feature-names"', 1)[1])
    assert names == [
        "Sign in",
        "Register your family",
        "Find a centre",
        "Vaccination certificates",
        "Check a certificate",
    ]
    assert "book" not in r.text.lower()


async def test_a_feature_appears_once_its_page_is_wired(
    settings: Settings, clean_db: Database, cache: Cache
) -> None:
    claim = APIRouter()

    @claim.get("/{tenant}/claim", dependencies=[requires("pages:read", public=True)])
    async def claim_page(tenant: str) -> PlainTextResponse:
        return PlainTextResponse("claim")

    def pages() -> APIRouter:
        router = APIRouter()
        router.include_router(claim)
        router.include_router(build_router())
        return router

    parts = dataclasses.replace(PARTS, pages=pages)
    app = create_app(settings, parts=parts, database=clean_db, cache=cache)
    await load_tenant(clean_db, code="dm", changes={"family": {"max_beneficiaries_per_account": 6}})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/dm/?lang=en")
    assert ("/dm/claim", "Claim a record made at a centre") in _offers(r.text)
