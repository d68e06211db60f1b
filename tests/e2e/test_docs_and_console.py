"""The API docs work without internet, and pages log nothing to the console."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_INSTALLED, LiveServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM_INSTALLED, reason=f"{CHROMIUM} is not installed"),
]

NewPage = Callable[..., Awaitable[Any]]
PHONE = {"width": 390, "height": 844}


async def _offline(page: Any) -> list[str]:
    """Abort every request that leaves the loopback; the list names what was tried."""
    tried: list[str] = []

    async def route(r: Any) -> None:
        if urlsplit(r.request.url).hostname in {"127.0.0.1", "localhost"}:
            await r.continue_()
        else:
            tried.append(r.request.url)
            await r.abort("internetdisconnected")

    await page.context.route("**/*", route)
    return tried


def _console(page: Any) -> list[str]:
    """Every console message that is not plain logging, and every page error."""
    seen: list[str] = []
    page.on(
        "console",
        lambda m: seen.append(f"{m.type}: {m.text}") if m.type in {"warning", "error"} else None,
    )
    page.on("pageerror", lambda e: seen.append(f"pageerror: {e}"))
    return seen


async def test_api_docs_render_operations_with_the_network_blocked(
    live_server: LiveServer, new_page: NewPage
) -> None:
    page = await new_page(viewport={"width": 1280, "height": 900})
    tried = await _offline(page)
    console = _console(page)
    await page.goto(live_server.url + "/api/docs")
    # Swagger UI fetched the document and drew its operations, tags and security.
    await page.locator(".opblock").first.wait_for()
    assert await page.locator(".opblock").count() > 30
    assert await page.locator(".opblock-tag").count() >= 3
    await expect(page.get_by_role("button", name="Authorize")).to_have_count(1)
    assert await page.locator("#swagger-ui").get_attribute("data-openapi-url") == (
        "/api/openapi.json"
    )
    assert tried == []
    assert [c for c in console if "Content Security Policy" in c or "pageerror" in c] == []


@pytest.mark.parametrize("path", ["/", "/sn/", "/sn/facilities", "/sn/sign-in", "/sn/staff/login"])
async def test_pages_log_no_warning_or_error_to_the_console(
    live_server: LiveServer, new_page: NewPage, path: str
) -> None:
    page = await new_page(viewport=PHONE)
    console = _console(page)
    await page.goto(live_server.url + path)
    await page.wait_for_load_state("networkidle")
    # Permissions-Policy names only features Chromium knows: no "Unrecognized feature".
    assert console == []
