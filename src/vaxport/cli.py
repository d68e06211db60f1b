"""The ``vaxport`` command: serve, worker, demo, db, tenant, keys, audit, bench...

Each context contributes its own sub-commands (``<context>/cli.py``); this module only
assembles them and holds the process-level commands.
"""

from __future__ import annotations

from pathlib import Path

import typer

from vaxport.core import migrate
from vaxport.core.cli_support import run_with_db
from vaxport.settings import UnsafeConfigurationError, get_settings

app = typer.Typer(help="vaxport: a national vaccination platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


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
    settings = get_settings()
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
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
        access_log=False,
        log_config=None,
    )


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Migrate the schema up (to the newest by default)."""
    run_with_db(lambda db: migrate.upgrade(db, revision))
    typer.echo(f"database at {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="Target, e.g. -1.")) -> None:
    """Migrate the schema down."""
    run_with_db(lambda db: migrate.downgrade(db, revision))
    typer.echo(f"database at {revision}")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the database and of this code."""
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
    )
    raise typer.Exit(runner.run(options))


def main() -> None:
    """Console-script entry point."""
    app()
