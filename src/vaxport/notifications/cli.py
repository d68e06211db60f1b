"""``vaxport notify test``: send a test message through a tenant's channel."""

from __future__ import annotations

from typing import Literal

import typer

from vaxport.core.cache import cache_from_url
from vaxport.core.cli_support import run_with_db
from vaxport.core.db import Database
from vaxport.core.errors import NotFound, ValidationFailed
from vaxport.notifications import support
from vaxport.settings import get_settings

app = typer.Typer(help="Notifications: check a tenant's channels.", no_args_is_help=True)


@app.command("test")
def send_test(
    tenant: str = typer.Option(..., "--tenant", help="Tenant code."),
    to: str = typer.Option(..., "--to", help="Phone number (national or +E.164) or e-mail."),
    kind: str | None = typer.Option(None, "--kind", help="sms or email (default: from --to)."),
    locale: str | None = typer.Option(None, "--locale", help="Template language."),
    wait: float = typer.Option(
        30.0, "--wait", min=0, help="Seconds to wait for a worker's outcome (0: do not wait)."
    ),
) -> None:
    """Queue the test_message template to --to; a worker sends it. Exit 1 if it fails."""
    if kind not in (None, "sms", "email"):
        typer.echo("--kind must be sms or email", err=True)
        raise typer.Exit(2)
    chosen: Literal["sms", "email"] | None = (
        "sms" if kind == "sms" else ("email" if kind == "email" else None)
    )

    async def run(db: Database) -> support.MessageStatus:
        cache = cache_from_url(get_settings().redis_url)
        try:
            status = await support.send_test_message(
                db=db, cache=cache, tenant=tenant, to=to, kind=chosen, locale=locale
            )
            typer.echo(f"message {status.id}: {status.status} ({status.kind})")
            if wait <= 0:
                return status
            return await support.wait_for_message(
                db=db, cache=cache, tenant=tenant, message_id=status.id, wait_seconds=wait
            )
        finally:
            await cache.close()

    try:
        status = run_with_db(run)
    except NotFound as exc:
        typer.echo(f"{tenant}: unknown tenant", err=True)
        raise typer.Exit(1) from exc
    except ValidationFailed as exc:
        for error in exc.errors:
            typer.echo(f"--{error['field']}: {error['reason']}", err=True)
        raise typer.Exit(2) from exc
    if status.status in ("sent", "delivered"):
        typer.echo(f"message {status.id}: {status.status} via channel {status.channel}")
    elif status.status in ("failed", "cancelled"):
        typer.echo(f"message {status.id}: {status.status} ({status.reason})", err=True)
        raise typer.Exit(1)
    elif wait > 0:
        typer.echo(
            f"message {status.id}: still {status.status} after {wait:g}s "
            f"({status.reason or 'no attempt yet'}); is a worker running (vaxport worker)?",
            err=True,
        )
        raise typer.Exit(3)
