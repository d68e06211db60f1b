"""The page shell in a real browser: content, language switch, accessibility, focus."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from PIL import Image
from playwright.async_api import expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_INSTALLED, LiveServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM_INSTALLED, reason=f"{CHROMIUM} is not installed"),
]

NewPage = Callable[..., Awaitable[Any]]


def _luminance(rgb: tuple[int, ...]) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrasting_pixels(png_a: bytes, png_b: bytes) -> int:
    """How many pixels differ between two same-size screenshots by at least 3:1 contrast."""
    a = Image.open(io.BytesIO(png_a)).convert("RGB")
    b = Image.open(io.BytesIO(png_b)).convert("RGB")
    assert a.size == b.size
    raw_a, raw_b = a.tobytes(), b.tobytes()
    count = 0
    for i in range(0, len(raw_a), 3):
        pa, pb = tuple(raw_a[i : i + 3]), tuple(raw_b[i : i + 3])
        if pa != pb:
            la, lb = _luminance(pa), _luminance(pb)
            if (max(la, lb) + 0.05) / (min(la, lb) + 0.05) >= 3:
                count += 1
    return count


def watch_for_errors(page: Any) -> list[str]:
    """Collect console errors (CSP violations are reported there) and page errors."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


async def test_landing_page_lists_tenants_and_links_to_their_home(
    live_server: LiveServer, new_page: NewPage
) -> None:
    page = await new_page(locale="en-GB")
    errors = watch_for_errors(page)
    response = await page.goto(live_server.url + "/")
    assert response.status == 200
    assert await page.locator("html").get_attribute("lang") == "en"
    assert await page.locator("h1").inner_text() == "Vaccination programmes"
    links = page.locator(".tenant-list a")
    await expect(links).to_have_count(2)
    assert await links.nth(0).get_attribute("href") == "/es/"
    assert await links.nth(1).get_attribute("href") == "/sn/"
    await page.get_by_role("link", name="Sénégal").click()
    await page.wait_for_url(live_server.url + "/sn/")
    assert await page.locator("h1").inner_text() == "Sénégal"
    # Our stylesheet loaded and applied under the strict CSP: no blocked resource.
    assert await page.evaluate("document.styleSheets.length") == 1
    assert errors == []


async def test_language_switch_changes_the_page_and_is_remembered(
    live_server: LiveServer, new_page: NewPage
) -> None:
    page = await new_page(locale="en-US")
    await page.goto(live_server.url + "/")
    assert await page.locator("html").get_attribute("lang") == "en"
    switcher = page.get_by_role("navigation", name="Language")
    await switcher.get_by_role("link", name="Français").click()
    await page.wait_for_url("**/?lang=fr")
    assert await page.locator("html").get_attribute("lang") == "fr"
    assert await page.locator("h1").inner_text() == "Programmes de vaccination"
    await expect(page.get_by_role("link", name="Aller au contenu principal")).to_have_count(1)

    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["lang"]["value"] == "fr"
    assert cookies["lang"]["httpOnly"] is True
    assert cookies["lang"]["sameSite"] == "Lax"

    # A later visit without ?lang= stays in French despite the browser's English.
    await page.goto(live_server.url + "/")
    assert await page.locator("html").get_attribute("lang") == "fr"
    assert await page.locator("h1").inner_text() == "Programmes de vaccination"
    # ...and so does a tenant that offers French.
    await page.goto(live_server.url + "/sn/")
    assert await page.locator("html").get_attribute("lang") == "fr"
    await expect(page.get_by_role("link", name="Accueil")).to_have_count(1)


PAGES = [("landing", "/"), ("tenant home", "/sn/"), ("not found", "/nowhere/")]
VIEWPORTS = [("phone", {"width": 320, "height": 640}), ("desktop", {"width": 1280, "height": 800})]


@pytest.mark.parametrize(("name", "path"), PAGES, ids=[p[0] for p in PAGES])
@pytest.mark.parametrize(("vp_name", "viewport"), VIEWPORTS, ids=[v[0] for v in VIEWPORTS])
async def test_pages_have_no_axe_violations_and_fit_the_screen(
    live_server: LiveServer,
    new_page: NewPage,
    name: str,
    path: str,
    vp_name: str,
    viewport: dict[str, int],
) -> None:
    page = await new_page(viewport=viewport)
    errors = watch_for_errors(page)
    await page.goto(live_server.url + path)
    results = await Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    # Nothing sideways: the page reflows into the viewport (WCAG 1.4.10).
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{name} overflows {vp_name} by {overflow}px"
    if name == "not found":
        errors = [e for e in errors if "404" not in e]  # the browser logs the status itself
    assert errors == []


async def test_keyboard_focus_is_visible_and_skip_link_works(
    live_server: LiveServer, new_page: NewPage
) -> None:
    page = await new_page(viewport={"width": 360, "height": 740}, locale="fr-FR")
    await page.goto(live_server.url + "/sn/")

    await page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    assert await skip.evaluate("el => el === document.activeElement")
    box = await skip.bounding_box()
    assert box is not None
    assert box["y"] >= 0, box  # moved on screen, not left at top: -10rem
    assert box["height"] >= 20, box
    assert await skip.inner_text() == "Aller au contenu principal"

    # Every tab stop looks different when focused than when not.
    labels: list[str] = []
    for _ in range(7):
        await page.keyboard.press("Tab")
        focused = (await page.evaluate_handle("document.activeElement")).as_element()
        assert focused is not None
        label = await focused.inner_text()
        with_focus = await focused.screenshot()
        await focused.evaluate("el => el.blur()")
        without_focus = await focused.screenshot()
        box = await focused.bounding_box()
        assert box is not None
        # WCAG 2.4.13: the indicator changes, at 3:1 contrast, an area at least that of a
        # 2px-thick perimeter. A mere text-colour change does not pass.
        needed = 4 * (box["width"] + box["height"])
        changed = contrasting_pixels(with_focus, without_focus)
        assert changed >= needed, f"focus on {label!r} changes {changed}px, need {needed:.0f}"
        await focused.focus()
        labels.append(label)

    assert labels == [
        "Sénégal",
        "Accueil",
        "Trouver un centre",
        "Trouver un créneau",
        "Tous les programmes",
        "Se connecter",
        "Français",
    ]

    # The skip link moves keyboard focus past the header into <main>.
    await page.goto(live_server.url + "/sn/")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "main"
