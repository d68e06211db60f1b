"""``vaxport beneficiaries import``: a bulk import run in this process, with progress.

Acts as the operator (audit role ``operator``), optionally confined to a region subtree
(``--region``); the import is recorded like an uploaded one, so its status and error
report are also visible through the API.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from vaxport.core.cache import cache_from_url
from vaxport.core.cli_support import run_with_db
from vaxport.core.db import Database
from vaxport.core.errors import Problem
from vaxport.core.imports.engine import show_progress
from vaxport.core.imports.readers import kind_of
from vaxport.registration.imports import importer
from vaxport.registration.imports import service as imports
from vaxport.registration.imports.schemas import ImportOut
from vaxport.settings import get_settings
from vaxport.tenancy.service import get_tenant_or_404

app = typer.Typer(help="Beneficiaries (people to vaccinate).", no_args_is_help=True)
ROLE = "operator"


@app.command("import")
def import_cmd(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="FILE.csv or .xlsx"),
    tenant: str = typer.Option(..., "--tenant", "-t", help="Tenant code."),
    region: str | None = typer.Option(
        None, "--region", help="Refuse rows outside this region's subtree."
    ),
    report: Path | None = typer.Option(
        None, "--report", help="Where to write the error report (default: FILE.errors.csv)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress line."),
) -> None:
    """Register the people of FILE; rows whose ID document exists change nothing."""
    report_path = report or file.with_name(f"{file.stem}.errors.csv")

    async def run(db: Database) -> tuple[ImportOut, int]:
        settings = get_settings()
        cache = cache_from_url(settings.redis_url)
        try:
            info = await get_tenant_or_404(db=db, cache=cache, code=tenant)
            if region is not None and region not in info.config.region_index:
                raise typer.BadParameter("unknown region", param_hint="--region")
            started = await imports.create(
                db=db,
                settings=settings,
                tenant=info,
                upload=file,
                kind=kind_of(file.name),
                actor_id=None,
                actor_role=ROLE,
                within_region=region,
                queue=False,
            )
            await importer.run(
                db=db,
                tenant=info,
                import_id=started.id,
                path=file,
                actor_role=ROLE,
                progress=None if quiet else show_progress,
            )
            errors = 0
            with report_path.open("w", encoding="utf-8", newline="") as out:
                async for chunk in imports.report_lines(db=db, tenant=info, import_id=started.id):
                    out.write(chunk)
                    errors += chunk.count("\n")
            done = await imports.status(db=db, tenant=info, import_id=started.id)
            return done, errors - 1
        finally:
            await cache.close()

    try:
        done, errors = run_with_db(run)
    except Problem as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        for e in exc.errors:
            typer.echo(f"  {e['field']}: {e['reason']}", err=True)
        raise typer.Exit(1) from exc
    if not quiet:
        sys.stderr.write("\n")
    typer.echo(
        f"import {done.id}: {done.rows_read} rows: {done.rows_created} created, "
        f"{done.rows_existing} existing, {done.rows_invalid} invalid"
    )
    if errors:
        typer.echo(f"{errors} problems listed in {report_path}")
    else:
        report_path.unlink(missing_ok=True)
    if done.status != "done" or done.rows_invalid:
        raise typer.Exit(1)
