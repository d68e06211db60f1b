"""``vaxport tenant ...``: load, validate, list, show and trace tenant configurations."""

from __future__ import annotations

from pathlib import Path

import orjson
import typer

from vaxport.core.cache import cache_from_url
from vaxport.core.cli_support import run_with_db
from vaxport.core.db import Database
from vaxport.core.errors import NotFound
from vaxport.settings import get_settings
from vaxport.tenancy import service
from vaxport.tenancy.config_types import localized
from vaxport.tenancy.schemas import LoadResult, TenantInfo
from vaxport.tenancy.validation import ConfigInvalid, ConfigRules, validate_file

app = typer.Typer(help="Tenant (country) configuration.", no_args_is_help=True)


def _rules(ctx: typer.Context) -> ConfigRules:
    """The other contexts' configuration checks, from the parts the root command holds."""
    rules = getattr(ctx.obj, "config_rules", None)
    if not isinstance(rules, ConfigRules):
        raise RuntimeError("run through the vaxport command: its parts hold the config checks")
    return rules


def _fail(lines: list[str]) -> typer.Exit:
    for line in lines:
        typer.echo(line, err=True)
    return typer.Exit(1)


@app.command("load")
def load_cmd(
    ctx: typer.Context, file: Path = typer.Argument(..., help="countries/<code>.yaml")
) -> None:
    """Validate FILE and make it its tenant's configuration."""
    rules = _rules(ctx)

    async def run(db: Database) -> LoadResult:
        cache = cache_from_url(get_settings().redis_url)
        try:
            return await service.load(db=db, cache=cache, path=file, rules=rules)
        finally:
            await cache.close()

    try:
        result = run_with_db(run)
    except ConfigInvalid as exc:
        raise _fail(exc.lines()) from exc
    if result.status == "unchanged":
        typer.echo(f"{result.code}: unchanged (version {result.version})")
        return
    typer.echo(
        f"{result.code}: version {result.version} ({result.status}; regions "
        f"+{result.regions_added} ~{result.regions_updated} -{result.regions_deactivated})"
    )


@app.command("validate")
def validate_cmd(
    ctx: typer.Context, file: Path = typer.Argument(..., help="countries/<code>.yaml")
) -> None:
    """Check FILE without loading it (exit 1 and every problem if it is refused)."""
    try:
        config = validate_file(file, rules=_rules(ctx))
    except ConfigInvalid as exc:
        raise _fail(exc.lines()) from exc
    typer.echo(
        f"{file}: valid ({config.code}: {len(config.regions.items)} regions, "
        f"{len(config.id_types)} ID types, {len(config.vaccines)} vaccines)"
    )


@app.command("list")
def list_cmd() -> None:
    """List the loaded tenants."""
    tenants = run_with_db(lambda db: service.list_tenants(db=db))
    if not tenants:
        typer.echo("no tenants loaded")
    for t in tenants:
        typer.echo(f"{t.code}\t{t.name}\t{t.default_locale}\t{','.join(t.locales)}")


@app.command("show")
def show_cmd(
    code: str = typer.Argument(..., help="Tenant code."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole configuration."),
) -> None:
    """Show a tenant's current configuration."""

    async def run(db: Database) -> TenantInfo:
        cache = cache_from_url("")  # read straight through: an operator wants the truth
        return await service.get_tenant_or_404(db=db, cache=cache, code=code)

    try:
        tenant = run_with_db(run)
    except NotFound as exc:
        raise _fail([f"{code}: unknown tenant"]) from exc
    if as_json:
        typer.echo(orjson.dumps(tenant.config.model_dump(mode="json"), option=orjson.OPT_INDENT_2))
        return
    cfg = tenant.config
    levels = " > ".join(
        localized(x, cfg.default_locale, cfg.default_locale) for x in cfg.regions.levels
    )
    typer.echo(
        "\n".join(
            [
                f"{tenant.code}: {tenant.name}",
                f"version {tenant.version}, hash {tenant.hash}",
                f"locales {', '.join(cfg.locales)} (default {cfg.default_locale}); {cfg.timezone}",
                f"regions {len(cfg.regions.items)} ({levels})",
                f"ID types {', '.join(t.code for t in cfg.id_types)}",
                f"vaccines {', '.join(v.id for v in cfg.vaccines)}",
                f"certificates {', '.join(cfg.certificates.formats) or 'none'}",
            ]
        )
    )


@app.command("history")
def history_cmd(code: str = typer.Argument(..., help="Tenant code.")) -> None:
    """List a tenant's configuration versions, newest first."""
    try:
        versions = run_with_db(lambda db: service.get_history(db=db, code=code))
    except NotFound as exc:
        raise _fail([f"{code}: unknown tenant"]) from exc
    for v in versions:
        typer.echo(f"{v.version}\t{v.loaded_at.isoformat()}\t{v.config_hash[:16]}\t{v.source}")
