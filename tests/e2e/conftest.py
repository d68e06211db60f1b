"""Browser test harness: a real uvicorn server and Debian's headless Chromium.

The server runs in a thread on its own event loop, bound to a loopback socket we open
(port 0: the kernel picks a free one, no race), against the session's test database.
Chromium is driven by Playwright through ``executable_path``; Playwright gives every
launch a fresh temporary ``--user-data-dir`` (it refuses one passed in ``args``), and
each test gets a new browser context, so no cookie leaks between tests.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.conftest import truncate_all
from tests.web.helpers import add_tenant
from vaxport.app import create_app
from vaxport.core.db import Database
from vaxport.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHROMIUM_INSTALLED = CHROMIUM.exists()
STARTUP_SECONDS = 30

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class LiveServer:
    """A running server: its base URL and the tenants it was started with."""

    url: str


@pytest.fixture(scope="module")
async def live_server(
    db: Database,
    owner_db: Database,
    app_database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[LiveServer]:
    """uvicorn serving the app on 127.0.0.1:<free port>, with two tenants loaded."""
    await add_tenant(db, code="sn", name="Sénégal", locales=["fr", "en"], default_locale="fr")
    await add_tenant(db, code="es", name="España", locales=["es", "en"], default_locale="es")
    settings = Settings(
        env="test",
        data_dir=tmp_path_factory.mktemp("e2e"),
        database_url=app_database_url,
        redis_url="",  # in-process cache: the server's own, gone with it
        log_json=True,
        log_level="WARNING",
    )
    # The app builds its database engine here but connects lazily, from the server's loop.
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", server_header=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), name="e2e-uvicorn", daemon=True
    )
    thread.start()
    for _ in range(STARTUP_SECONDS * 20):
        if server.started or not thread.is_alive():
            break
        await asyncio.sleep(0.05)
    if not server.started:
        server.should_exit = True
        thread.join(5)
        sock.close()
        pytest.fail("the test server did not start")
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 15)
        sock.close()
        await truncate_all(owner_db)  # cleanup needs the owner (append-only guards)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    """Headless Debian Chromium (the test skips with a reason when it is not installed).

    One a worker: each test has its own browser context (cookies, storage), so starting
    Chromium again for every test file only cost its start-up."""
    if not CHROMIUM_INSTALLED:
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium, or `make browser`)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        instance = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            await instance.close()


@pytest.fixture
async def new_page(browser: Any) -> AsyncIterator[Any]:
    """A factory of pages in one fresh browser context (its own cookies) per test."""
    contexts: list[Any] = []

    async def make(**context_options: Any) -> Any:
        context = await browser.new_context(**context_options)
        contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield make
    for context in contexts:
        await context.close()
