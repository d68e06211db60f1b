"""Helpers of the booking pages' tests: a signed-in browser, links found in pages."""

from __future__ import annotations

import html
import re
import uuid

import httpx

from tests.registration.review.review_support import add_citizen, web_session
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

HTML = {"accept": "text/html"}
CSRF = "c" * 40


async def sign_in(
    client: httpx.AsyncClient, db: Database, settings: Settings, tenant: TenantInfo
) -> uuid.UUID:
    """A new citizen account, signed in on ``client`` (session and CSRF cookies); its id."""
    account = await add_citizen(db, tenant)
    client.cookies.set("vaxport_session", await web_session(db, settings, tenant, account))
    client.cookies.set("vaxport_csrf", CSRF)
    return account


def links(page: str, pattern: str) -> list[str]:
    """The hrefs of ``page`` matching ``pattern`` (a regular expression), in order."""
    found = [html.unescape(h) for h in re.findall(r'href="([^"]+)"', page)]
    return [h for h in found if re.search(pattern, h)]


def link(page: str, pattern: str) -> str:
    """The one href of ``page`` matching ``pattern``."""
    found = list(dict.fromkeys(links(page, pattern)))
    assert len(found) == 1, (pattern, found)
    return found[0]


def summary(page: str) -> str:
    """The text of the page's error summary ("" when it has none)."""
    match = re.search(r'<div class="error-summary".*?</div>', page, re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(0))) if match else ""


def text(page: str) -> str:
    """The page's main text, tags removed, spaces squeezed."""
    main = re.search(r"<main.*?</main>", page, re.S)
    plain = html.unescape(re.sub(r"<[^>]+>", " ", main.group(0) if main else page))
    return re.sub(r"\s+", " ", plain)
