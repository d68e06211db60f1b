"""``vaxport user ...`` (staff accounts) and ``vaxport keys rotate-signing``."""

from __future__ import annotations

import uuid

import typer

from vaxport.core.cli_support import run_with_db
from vaxport.core.db import Database
from vaxport.core.errors import Problem

app = typer.Typer(help="Staff accounts.", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


@app.command("create")
def create(
    *,
    tenant: str = typer.Option(..., help="Tenant code."),
    username: str = typer.Option(..., help="Login name (a-z 0-9 . _ -)."),
    role: str = typer.Option(..., help="national_admin, region_admin, facility_manager, ..."),
    region: str | None = typer.Option(None, help="Region code the account is limited to."),
    facility: str | None = typer.Option(None, help="Facility id the account is limited to."),
    email: str | None = typer.Option(None, help="E-mail address (stored encrypted)."),
    name: str | None = typer.Option(None, help="Display name (stored encrypted)."),
) -> None:
    """Create a staff account and print its single-use activation link."""
    from vaxport.core.cache import cache_from_url
    from vaxport.identity.staff.admin import create_staff
    from vaxport.settings import get_settings
    from vaxport.tenancy.service import get_tenant_or_404

    if region and facility:
        raise _fail("give --region or --facility, not both")
    try:
        facility_id = uuid.UUID(facility) if facility else None
    except ValueError:
        raise _fail("--facility must be a facility id (UUID)") from None
    settings = get_settings()

    async def main(db: Database) -> str:
        cache = cache_from_url("")
        found = await get_tenant_or_404(db=db, cache=cache, code=tenant)
        made = await create_staff(
            db=db,
            settings=settings,
            tenant=found,
            actor=None,
            username=username,
            role=role,
            region_code=region,
            facility_id=facility_id,
            display_name=name,
            email=email,
        )
        return made.url(settings, found.code)

    try:
        url = run_with_db(main)
    except Problem as exc:
        details = "; ".join(f"{e['field']}: {e['reason']}" for e in exc.errors) or exc.detail
        raise _fail(details) from exc
    typer.echo(f"created {username} ({role}); activation link (single use):")
    typer.echo(url)


def rotate_signing() -> None:
    """New access-token signing key; the old one stays published until its tokens expire."""
    from vaxport.identity.credentials.signing import rotate
    from vaxport.settings import get_settings

    seconds = get_settings().access_token_seconds
    done = run_with_db(lambda db: rotate(db, access_token_seconds=seconds))
    typer.echo(f"signing key {done.new_kid} is active")
    for kid in done.retiring:
        typer.echo(f"  {kid} retiring: published and accepted until {done.publish_until:%F %T}Z")
    for kid in done.retired:
        typer.echo(f"  {kid} retired")
