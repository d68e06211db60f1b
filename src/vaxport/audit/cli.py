"""``vaxport audit ...``: verify a tenant's chain, seal pending entries."""

from __future__ import annotations

import typer

from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.cli_support import run_with_db
from vaxport.core.db import Database
from vaxport.core.errors import NotFound

app = typer.Typer(help="Tamper-evident audit log.", no_args_is_help=True)


def _parse_anchor(anchor: str | None) -> tuple[int, str] | None:
    if not anchor:
        return None
    position, _, digest = anchor.partition(":")
    if not position.isdigit() or len(digest) != 64:
        raise typer.BadParameter("expected POSITION:SHA256HEX (as printed by verify)")
    return int(position), digest.lower()


@app.command("verify")
def verify_command(
    tenant: str = typer.Option(..., "--tenant", help="Tenant code."),
    anchor: str | None = typer.Option(
        None, help="POSITION:HASH of a head recorded earlier, to detect a rewritten chain."
    ),
) -> None:
    """Walk the tenant's hash chain; exit 1 naming the first broken entry."""
    from vaxport.core.audit.chain import verify
    from vaxport.tenancy.service import get_tenant_or_404

    expected = _parse_anchor(anchor)

    async def run(db: Database) -> int:
        try:
            found = await get_tenant_or_404(db=db, cache=Cache(MemoryBackend()), code=tenant)
        except NotFound:
            typer.echo(f"no tenant with code {tenant!r}", err=True)
            return 2
        result = await verify(db=db, tenant_id=found.id, anchor=expected)
        if result.broken is not None:
            b = result.broken
            where = f"position {b.position}" if b.position is not None else "unsealed"
            typer.echo(f"BROKEN at {where}, entry {b.entry_id}: {b.reason}", err=True)
            return 1
        typer.echo(
            f"ok: {result.sealed} sealed, {result.unsealed} not yet sealed; "
            f"head {result.head_position}:{result.head_hash}"
        )
        return 0

    code = run_with_db(run)
    if code:
        raise typer.Exit(code)


@app.command("seal")
def seal_command(
    tenant: str | None = typer.Option(None, "--tenant", help="Only this tenant's code."),
) -> None:
    """Link pending entries into their tenants' chains (the worker does this too)."""
    from vaxport.audit.runner import seal_all
    from vaxport.core.audit.chain import seal
    from vaxport.tenancy.service import get_tenant_or_404

    async def run(db: Database) -> int:
        if tenant is None:
            return sum((await seal_all(db=db)).values())
        found = await get_tenant_or_404(db=db, cache=Cache(MemoryBackend()), code=tenant)
        return await seal(db=db, tenant_id=found.id)

    try:
        sealed = run_with_db(run)
    except NotFound:
        typer.echo(f"no tenant with code {tenant!r}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"sealed {sealed} entries")
