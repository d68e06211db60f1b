"""The ``vaxport`` command: serve, worker, demo, db, tenant, keys, audit, bench...

Each context contributes its own sub-commands (``<context>/cli.py``); the composition
root (``wiring.py``) lists them, and this module assembles them, holds the process-level
commands, and hands every command the parts (``ctx.obj``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from vaxport import wiring
from vaxport.certificates.cli import COMMANDS as CERTIFICATE_KEY_COMMANDS
from vaxport.core.cli_support import run_with_db
from vaxport.core.crypto.cli import app as keys_app
from vaxport.core.outbox.cli import worker_command
from vaxport.identity.cli import rotate_signing
from vaxport.settings import UnsafeConfigurationError, get_settings

if TYPE_CHECKING:
    from vaxport.core import migrate

# A command serves no requests: the parts without the HTTP routes and pages, whose
# imports are most of a process's start-up (`serve` and `demo` build the app's own).
PARTS = wiring.build(http=False)

app = typer.Typer(help="vaxport: a national vaccination platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")

app.command("worker")(worker_command(wiring.event_subscriptions, wiring.worker_companions))
for _name, _sub_app in PARTS.cli_apps:
    app.add_typer(_sub_app, name=_name)
for _name, _command in PARTS.cli_commands:
    app.command(_name)(_command)
keys_app.command("rotate-signing")(rotate_signing)
for _name, _command in CERTIFICATE_KEY_COMMANDS:
    keys_app.command(_name)(_command)


@app.callback()
def _wire(ctx: typer.Context) -> None:
    """vaxport: a national vaccination platform."""
    wiring.install(PARTS)  # the worker and every command run on the wired contexts
    ctx.obj = PARTS


def _check_settings() -> None:
    try:
        get_settings().check_safe()
    except UnsafeConfigurationError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000, help="TCP port."),
    workers: int = typer.Option(1, min=1, help="Server processes."),
    certfile: Path | None = typer.Option(None, help="TLS certificate (PEM) to serve HTTPS."),
    keyfile: Path | None = typer.Option(None, help="TLS private key (PEM)."),
) -> None:
    """Serve the HTTP API and pages."""
    import uvicorn

    _check_settings()
    uvicorn.run(
        "vaxport.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        ssl_certfile=str(certfile) if certfile else None,
        ssl_keyfile=str(keyfile) if keyfile else None,
        server_header=False,
        date_header=True,
        # The app reads proxy headers itself, from VAXPORT_TRUSTED_PROXIES only
        # (core/http/transport.py); uvicorn's own handling would trust 127.0.0.1 by default.
        proxy_headers=False,
        access_log=False,
        log_config=None,
    )


def _migration_plan() -> migrate.MigrationPlan:
    from vaxport.core import migrate  # alembic: only the db commands load it

    settings = get_settings()
    plan = migrate.migration_plan(settings)
    if plan.problem:
        if settings.env == "production":
            typer.echo(f"refusing: {plan.problem}", err=True)
            raise typer.Exit(2)
        typer.echo(f"warning: {plan.problem}", err=True)
    return plan


@app.command()
def demo(
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    port: int = typer.Option(8000, help="TCP port."),
) -> None:
    """Prepare the demo country and serve it with a worker (embedded DB by default)."""
    import asyncio
    import os

    from vaxport import demo as demo_module

    _check_settings()
    settings = get_settings()
    if settings.env == "production":
        typer.echo("refusing: the demo loads sample data; not in production", err=True)
        raise typer.Exit(2)
    if "VAXPORT_LOG_JSON" not in os.environ:  # a person reads this terminal
        settings = settings.model_copy(update={"log_json": False})
    try:
        asyncio.run(demo_module.run(settings, host=host, port=port, parts=wiring.build()))
    except KeyboardInterrupt:
        pass
    except FileNotFoundError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Migrate the schema up (as the owner), then secure it: app role, grants, RLS."""
    from vaxport.core import migrate

    plan = _migration_plan()
    run_with_db(
        lambda db: migrate.upgrade(
            db,
            revision,
            metadata=PARTS.metadata,
            app_role=plan.app_role,
            app_password=plan.app_password,
        ),
        url=plan.owner_url,
    )
    typer.echo(f"database at {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="Target, e.g. -1.")) -> None:
    """Migrate the schema down (as the owner)."""
    from vaxport.core import migrate

    plan = _migration_plan()
    run_with_db(lambda db: migrate.downgrade(db, revision), url=plan.owner_url)
    typer.echo(f"database at {revision}")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the database and of this code."""
    from vaxport.core import migrate

    rev = run_with_db(migrate.current)
    typer.echo(f"database: {rev or 'empty'}; code head: {migrate.head()}")


@app.command()
def bench(  # noqa: PLR0917 - Typer maps each option to a parameter
    scenarios: str = typer.Option(
        "", help="Comma-separated scenario names (default: all; see bench/README.md)."
    ),
    duration: float = typer.Option(10.0, min=1, help="Seconds per measured run."),
    warmup: float = typer.Option(2.0, min=0, help="Seconds of warm-up before each run."),
    connections: int = typer.Option(64, min=1, help="Open connections (wrk -c)."),
    threads: int = typer.Option(1, min=1, help="wrk threads (one drives ~50k req/s)."),
    workers: int = typer.Option(1, min=1, help="Server processes (vaxport serve --workers)."),
    database_url: str = typer.Option("", help="Database to use (default: temporary SQLite)."),
    redis_url: str = typer.Option("", help="Redis to use (default: in-process cache)."),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON result on stdout."),
    output: Path | None = typer.Option(None, help="JSON path (default: bench/results/)."),
    profile: bool = typer.Option(
        False, "--profile", help="Sample the server with py-spy during each scenario's run."
    ),
    prefill: int = typer.Option(1000, min=0, help="People registered before `register` runs."),
    pgbench: bool = typer.Option(
        True, help="Replay a registration's statements with pgbench (PostgreSQL)."
    ),
) -> None:
    """Measure throughput, latency and CPU per request against same-run ceilings."""
    import importlib
    import sys

    root = Path(__file__).resolve().parents[2]
    if not (root / "bench" / "runner.py").is_file():
        typer.echo("vaxport bench runs from a source checkout (bench/ not found)", err=True)
        raise typer.Exit(2)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    runner = importlib.import_module("bench.runner")
    options = runner.Options(
        scenarios=[s.strip() for s in scenarios.split(",") if s.strip()] or None,
        duration_s=duration,
        warmup_s=warmup,
        connections=connections,
        threads=threads,
        workers=workers,
        database_url=database_url,
        redis_url=redis_url,
        as_json=as_json,
        output=output,
        profile=profile,
        prefill=prefill,
        pgbench=pgbench,
    )
    raise typer.Exit(runner.run(options))


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
