"""``vaxport facility ...``: import, show, deactivate and reactivate facilities.

Until staff accounts exist this is the administrators' write path; it acts as the
operator (audit role ``operator``), optionally confined to a region subtree.
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
from vaxport.core.principal import OPERATOR
from vaxport.facilities import service
from vaxport.facilities.importer import import_file
from vaxport.facilities.schemas import FacilityOut, ImportSummary
from vaxport.settings import get_settings
from vaxport.tenancy.service import get_tenant_or_404

app = typer.Typer(help="Vaccination facilities (centres).", no_args_is_help=True)

TenantOpt = typer.Option(..., "--tenant", "-t", help="Tenant code.")
RegionOpt = typer.Option(
    None, "--within-region", help="Refuse changes outside this region's subtree."
)


def _fail(problem: Problem) -> typer.Exit:
    typer.echo(f"error: {problem.detail}", err=True)
    for e in problem.errors:
        typer.echo(f"  {e['field']}: {e['reason']}", err=True)
    return typer.Exit(1)


@app.command("import")
def import_cmd(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="FILE.csv or .xlsx"),
    tenant: str = TenantOpt,
    errors: Path | None = typer.Option(
        None, "--errors", help="Where to write the error report (default: FILE.errors.csv)."
    ),
    within_region: str | None = RegionOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress line."),
) -> None:
    """Create or update facilities from FILE, by code; invalid rows go to the report."""
    report_path = errors or file.with_name(f"{file.stem}.errors.csv")

    async def run(db: Database) -> ImportSummary:
        cache = cache_from_url(get_settings().redis_url)
        try:
            info = await get_tenant_or_404(db=db, cache=cache, code=tenant)
            with report_path.open("w", encoding="utf-8", newline="") as report:
                return await import_file(
                    db=db,
                    cache=cache,
                    tenant=info,
                    path=file,
                    kind=kind_of(file.name),
                    report=report,
                    by=OPERATOR,
                    within_region=within_region,
                    progress=None if quiet else show_progress,
                )
        finally:
            await cache.close()

    try:
        summary = run_with_db(run)
    except Problem as exc:
        report_path.unlink(missing_ok=True)
        raise _fail(exc) from exc
    if not quiet:
        sys.stderr.write("\n")
    typer.echo(
        f"{summary.rows} rows: {summary.created} created, {summary.updated} updated, "
        f"{summary.unchanged} unchanged, {summary.invalid} invalid"
    )
    if summary.error_count:
        typer.echo(f"{summary.error_count} problems listed in {report_path}")
    else:
        report_path.unlink(missing_ok=True)
    if not summary.complete or summary.invalid:
        raise typer.Exit(1)


def _by_code(tenant: str, code: str, action: str, within_region: str | None) -> FacilityOut:
    async def run(db: Database) -> FacilityOut:
        cache = cache_from_url(get_settings().redis_url)
        try:
            info = await get_tenant_or_404(db=db, cache=cache, code=tenant)
            found = await service.get_by_code(db=db, tenant=info, code=code)
            if action == "show":
                return found
            change = service.deactivate if action == "deactivate" else service.reactivate
            return await change(
                db=db,
                cache=cache,
                tenant=info,
                facility_id=found.id,
                by=OPERATOR,
                within_region=within_region,
            )
        finally:
            await cache.close()

    try:
        return run_with_db(run)
    except Problem as exc:
        raise _fail(exc) from exc


def _print(f: FacilityOut) -> None:
    state = "active" if f.active else f"deactivated {f.deactivated_at:%Y-%m-%d}"
    typer.echo(f"{f.code}\t{f.id}\tv{f.version}\t{state}\t{f.type}\t{f.region_code}")


@app.command("show")
def show_cmd(code: str = typer.Argument(...), tenant: str = TenantOpt) -> None:
    """Print a facility as JSON."""
    typer.echo(_by_code(tenant, code, "show", None).model_dump_json(indent=2))


@app.command("deactivate")
def deactivate_cmd(
    code: str = typer.Argument(...), tenant: str = TenantOpt, within_region: str | None = RegionOpt
) -> None:
    """Take a facility out of service (kept, hidden from the public directory)."""
    _print(_by_code(tenant, code, "deactivate", within_region))


@app.command("reactivate")
def reactivate_cmd(
    code: str = typer.Argument(...), tenant: str = TenantOpt, within_region: str | None = RegionOpt
) -> None:
    """Put a deactivated facility back in service."""
    _print(_by_code(tenant, code, "reactivate", within_region))
