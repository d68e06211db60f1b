"""``vaxport demo``: one process that prepares a demo country and serves it with a worker.

It migrates the database (the embedded SQLite file by default, or
``VAXPORT_DATABASE_URL``), loads ``countries/demo.yaml`` and whatever sample data the
contexts provide, prints how to log in, then serves the app and runs an outbox worker in
the same event loop until Ctrl-C. Running it again reuses the data: every step is
idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vaxport import wiring
from vaxport.core import migrate
from vaxport.core.cache import Cache, cache_from_url
from vaxport.core.db import Database, database_from_settings
from vaxport.settings import Settings

if TYPE_CHECKING:
    from vaxport.identity.demo import DemoLogin

DEMO_TENANT = "demo"


@dataclass
class DemoReport:
    """What the demo prepared, printed for the person trying it."""

    url: str
    tenant_status: str = ""
    lines: list[str] = field(default_factory=list)


async def prepare(
    settings: Settings, db: Database, cache: Cache, report: DemoReport, *, parts: wiring.Parts
) -> None:
    """Migrate, load the demo country and run the sample-data steps of ``parts``."""
    from vaxport.tenancy.loader import load

    plan = migrate.migration_plan(settings)
    owner = db if plan.owner_url == settings.effective_database_url else Database(plan.owner_url)
    try:
        await migrate.upgrade(
            owner,
            metadata=parts.metadata,
            app_role=plan.app_role,
            app_password=plan.app_password,
        )
    finally:
        if owner is not db:
            await owner.dispose()
    path = Path(settings.countries_dir) / f"{DEMO_TENANT}.yaml"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: run the demo from the project checkout "
            "(or set VAXPORT_COUNTRIES_DIR)"
        )
    result = await load(db=db, cache=cache, path=path, rules=parts.config_rules)
    report.tenant_status = f"{result.code} v{result.version} ({result.status})"
    for step in parts.demo_steps:
        report.lines += await step(db, cache, settings, DEMO_TENANT, report.url)
    await _demo_staff(db, cache, report)


async def _demo_staff(db: Database, cache: Cache, report: DemoReport) -> None:
    """Staff logins with fresh passwords and TOTP secrets, printed on every run."""
    from vaxport.identity.demo import create_demo_staff

    logins = await create_demo_staff(db, DEMO_TENANT, cache=cache)
    for login in logins:
        report.lines += [
            f"  {login.role:<11} user {login.username}  password {login.password}",
            f"              TOTP secret {login.totp_secret}  ({login.scope})",
            f"              sign in at {report.url}{login.login_url_path}",
        ]
    if logins:
        report.lines.append(
            "  TOTP codes  add the secret to an authenticator app, or run: "
            ".venv/bin/python -c \"import pyotp; print(pyotp.TOTP('SECRET').now())\""
        )
        report.lines.append(
            f"  console     as the vaccinator: {report.url}/{DEMO_TENANT}/staff/people "
            "(find a person, record a dose) or .../staff/today (choose a centre)"
        )
    vaccinator = next((login for login in logins if login.role == "vaccinator"), None)
    await _demo_citizen(db, cache, report, vaccinator)


async def _demo_citizen(
    db: Database, cache: Cache, report: DemoReport, vaccinator: DemoLogin | None
) -> None:
    """A citizen who signs in with a one-time code; the code shows up in this terminal.
    Their family member has a first dose, given by the demo vaccinator."""
    from vaxport.identity.demo import create_demo_citizen
    from vaxport.immunization.demo import record_demo_doses

    citizen = await create_demo_citizen(db, DEMO_TENANT, cache=cache)
    report.lines += [
        f"  citizen     phone {citizen.phone}  (or e-mail {citizen.email})",
        f"              sign in at {report.url}{citizen.login_url_path}: enter the phone,",
        "              then the 6-digit code printed below in this terminal (a 'vaxport sms",
        f"              via console channel' box) or listed at {report.url}/dev/messages",
        "              (valid 3 minutes; any other phone number gets a new account)",
    ]
    if vaccinator is not None and vaccinator.account_id and citizen.account_id:
        report.lines += await record_demo_doses(
            db,
            cache,
            DEMO_TENANT,
            report.url,
            citizen_id=citizen.account_id,
            vaccinator_id=vaccinator.account_id,
            region_code=vaccinator.region_code,
            facility_id=vaccinator.facility_id,
        )


def served_at(settings: Settings, *, host: str, port: int) -> Settings:
    """``settings`` whose public URL is where the demo serves (``--host``/``--port``), so
    links in messages (invitations, resets, recovery undo) lead back to it; an explicit
    ``VAXPORT_PUBLIC_URL`` (the demo behind a proxy, say) is kept."""
    if "public_url" in settings.model_fields_set:
        return settings
    shown = "127.0.0.1" if host in {"", "0.0.0.0", "::"} else host  # noqa: S104 - a name to show
    if ":" in shown:
        shown = f"[{shown}]"
    return settings.model_copy(update={"public_url": f"http://{shown}:{port}"})


async def run(
    settings: Settings, *, host: str, port: int, parts: wiring.Parts | None = None
) -> None:
    """Prepare, print the banner, then serve + work until interrupted."""
    import uvicorn

    from vaxport.app import create_app
    from vaxport.core.outbox.worker import run_worker

    parts = parts or wiring.build()
    settings = served_at(settings, host=host, port=port)

    db = database_from_settings(settings)
    cache = cache_from_url(settings.redis_url)
    report = DemoReport(url=settings.public_url.rstrip("/"))
    try:
        app = create_app(settings, parts=parts, database=db, cache=cache)
        await prepare(settings, db, cache, report, parts=parts)
        print(banner(report), flush=True)  # noqa: T201 - the demo talks to a person
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            server_header=False,
            access_log=False,
            log_config=None,
            lifespan="on",
        )
        server = uvicorn.Server(config)
        stop = asyncio.Event()
        worker = asyncio.create_task(
            run_worker(
                db,
                cache,
                settings,
                stop,
                subscriptions=wiring.event_subscriptions(),
                companions=wiring.worker_companions(),
            )
        )
        try:
            await server.serve()
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(worker, timeout=30)
    finally:
        await cache.close()
        await db.dispose()


def banner(report: DemoReport) -> str:
    """The text a person sees once the demo is ready."""
    rule = "=" * 72
    lines = [
        rule,
        "vaxport demo is ready",
        f"  open        {report.url}/",
        f"  tenant      {report.tenant_status}",
        f"  config API  {report.url}/api/v1/{DEMO_TENANT}/config",
        f"  API docs    {report.url}/api/docs",
        f"  messages    {report.url}/dev/messages   (one-time codes sent in the demo)",
        *report.lines,
        "  stop        Ctrl-C (data stays in the data directory for the next run)",
        rule,
    ]
    return "\n".join(lines)
