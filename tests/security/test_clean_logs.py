"""A full flow with known personal values at DEBUG leaves none of them in the logs (issue 3).

Everything the process logs is captured as rendered in production (structlog JSON, stdlib
records, SQLAlchemy's statement and row log as with ``VAXPORT_DATABASE_ECHO``), while:
every write route is called through its audit-walk recipe and every registered read
(``READS``: searches by ID number and the like) is made (recipes send the known
``PERSON`` values wherever a route takes personal data, so routes added later join in),
staff are invited and log in with those values, they are read back, searched and
refused, the outbox worker delivers the queued messages, and a request fails with an
exception whose message carries the values. Then no spelling of any value may appear.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.security.routes import READS, RECIPES, load_recipes, send, write_routes
from tests.security.serve import serving
from tests.security.world import PERSON, World
from vaxport.core.logging import configure_logging
from vaxport.core.outbox.worker import Worker
from vaxport.settings import Settings
from vaxport.wiring import event_subscriptions

# Loggers that are quiet by default but an operator may turn up while debugging.
_LOUD = (
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "httpx",
    "httpcore",
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The app under test logs at DEBUG (``create_app`` configures logging from this)."""
    return settings.model_copy(update={"log_level": "DEBUG", "database_echo": True})


@pytest.fixture
def captured(app: Any) -> Iterator[io.StringIO]:
    """Every line the process logs from here on, rendered by the production formatter."""
    root = logging.getLogger()
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    # As an operator turning them up would: at DEBUG, through the root handler (another
    # test's uvicorn logging config may have detached or disabled them in this process).
    loggers = [logging.getLogger(name) for name in _LOUD]
    saved = [(lg.level, lg.propagate, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.propagate = True
        lg.disabled = False
    yield buffer
    for lg, (level, propagate, disabled) in zip(loggers, saved, strict=True):
        lg.setLevel(level)
        lg.propagate = propagate
        lg.disabled = disabled
    root.removeHandler(handler)
    configure_logging(level="INFO", json=True)


async def _scripted_flow(app: Any, w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Staff invited with the values (by a recipe) read back, searched and refused."""
    listed = (await w.ok("GET", "/staff", params={"limit": 200}, headers=w.admin_auth)).json()
    [account_id] = [a["id"] for a in listed["items"] if a["email"] == PERSON.email]
    await w.ok("GET", f"/staff/{account_id}", headers=w.admin_auth)
    # Values where they do not belong: refused (422/404), never echoed into a log line.
    for method, path, kwargs in (
        ("GET", f"/staff/{PERSON.id_number}", {}),
        ("GET", "/staff", {"params": {"cursor": PERSON.id_number, "q": PERSON.email}}),
        ("GET", f"/staff/{PERSON.passport}", {"params": {"id": PERSON.id_number_printed}}),
        ("POST", "/staff", {"json": {"username": PERSON.email, "role": PERSON.name}}),
        ("POST", "/auth/login", {"json": {"username": PERSON.phone, "password": PERSON.name}}),
        ("PATCH", "/me", {"json": {"email": PERSON.phone, "phone": PERSON.email}}),
        ("POST", "/notifications/test", {"json": {"to": f"{PERSON.name} <{PERSON.email}>"}}),
    ):
        r = await w.client.request(method, w.api + path, headers=w.admin_auth, **kwargs)
        assert 400 <= r.status_code < 500, (method, path, r.status_code)
    await w.ok("POST", "/notifications/test", json={"to": PERSON.phone}, headers=w.admin_auth)
    # Deliver what was queued (console channel in the demo country).
    await Worker(
        w.db, w.cache, w.settings, subscriptions=event_subscriptions(), worker_id="logs-test"
    ).run(asyncio.Event(), once=True)

    # Over a real server with its access log on: values in paths and query strings.
    async with serving(app, access_log=True) as base_url, httpx.AsyncClient() as c:
        for path in (f"/staff/{PERSON.id_number}", f"/staff?cursor={PERSON.passport}"):
            r = await c.get(base_url + w.api + path, headers=w.admin_auth)
            assert r.status_code in (404, 422)
        r = await c.get(
            f"{base_url}{w.api}/staff", params={"q": PERSON.email}, headers=w.admin_auth
        )
        assert r.status_code in (200, 422)

    # An unexpected failure whose message carries the values: logged with its traceback.
    from vaxport.identity.staff import admin as staff

    async def broken(**_: Any) -> Any:
        raise RuntimeError(
            f"lookup failed for email={PERSON.email} phone {PERSON.phone} "
            f"id {PERSON.id_number} passport {PERSON.passport} name={PERSON.name!r}"
        )

    monkeypatch.setattr(staff, "get_staff", broken)
    # As a server would: the error is answered (500), not raised into the client.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        r = await c.get(f"{w.api}/staff/{account_id}", headers=w.admin_auth)
    assert r.status_code == 500
    assert PERSON.email not in r.text


async def test_a_full_flow_at_debug_logs_no_personal_value(
    app: Any, world: World, captured: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_recipes()
    for method, path in write_routes(app):
        make = RECIPES.get((method, path))
        if make is not None:
            resp = await send(world, method, path, await make(world))
            assert resp.status_code < 300, f"{method} {path}: {resp.status_code} {resp.text}"
    for (method, path), make in READS.items():
        resp = await send(world, method, path, await make(world))
        assert resp.status_code < 300, f"{method} {path}: {resp.status_code} {resp.text}"
    await _scripted_flow(app, world, monkeypatch)

    log = captured.getvalue()
    # The capture saw the whole flow: requests, SQL with its parameters, the traceback.
    assert log.count("\n") > 200
    for seen in ("request.unhandled", "Traceback", "RuntimeError", "INSERT INTO", "uvicorn.access"):
        assert seen in log
    leaks = {
        label: [line[:300] for line in log.splitlines() if value.lower() in line.lower()][:3]
        for label, value in PERSON.needles().items()
    }
    leaks = {label: lines for label, lines in leaks.items() if lines}
    assert not leaks, f"personal values in the logs: {leaks}"
