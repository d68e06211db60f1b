"""``vaxport keys ...``: create the local key file, rotate keys, re-encrypt, retire, status."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from sqlalchemy import MetaData, column, select, table

from vaxport.core.cli_support import run_with_db
from vaxport.core.crypto.errors import CryptoError
from vaxport.core.db import Database

T = TypeVar("T")
app = typer.Typer(help="Encryption keys: setup, rotation, re-encryption.", no_args_is_help=True)

TENANT_HELP = "Tenant code or id (default: every tenant that has keys)."
_tenants = table("tenants", column("id"), column("code"))


def _echo(msg: str) -> None:
    typer.echo(msg)


async def _tenant_ids(db: Database, tenant: str | None) -> list[uuid.UUID]:
    from vaxport.core.crypto.rotation import tenants_with_keys

    if tenant is None:
        return await tenants_with_keys(db)
    try:
        return [uuid.UUID(tenant)]
    except ValueError:
        pass
    async with db.read() as s:
        found = (await s.execute(select(_tenants.c.id).where(_tenants.c.code == tenant))).scalar()
    if found is None:
        raise CryptoError(f"no tenant with code {tenant!r}")
    return [found if isinstance(found, uuid.UUID) else uuid.UUID(str(found))]


def _run(fn: Callable[[Database], Awaitable[T]]) -> T:
    from vaxport.core.crypto.state import get_keyring

    try:
        # Refuse a bad provider configuration (unsafe key file, unreachable KMS) up front.
        get_keyring().provider.current_kek_id()
        return run_with_db(fn)
    except CryptoError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


@app.command("init")
def init() -> None:
    """Create the local key file (mode 0600) holding a new key-encryption key."""
    from vaxport.core.crypto.providers import init_key_file
    from vaxport.settings import get_settings

    path = get_settings().effective_key_file
    try:
        kek_id = init_key_file(path)
    except CryptoError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"created {path} with KEK {kek_id}; back it up now (see docs/keys.md)")


@app.command("status")
def status(tenant: str | None = typer.Option(None, help=TENANT_HELP)) -> None:
    """Key versions and how many stored values each one still protects."""
    from vaxport.core.crypto.rotation import key_versions, usage

    async def main(db: Database) -> None:
        for tid in await _tenant_ids(db, tenant):
            typer.echo(f"tenant {tid}")
            for v in await key_versions(db, tenant_id=tid):
                typer.echo(
                    f"  {v['purpose']:<5} v{v['version']:<3} {v['state']:<8} "
                    f"{v['provider']}:{v['provider_key_id']}"
                )
            for where, per in sorted((await usage(db, tenant_id=tid)).items()):
                counts = ", ".join(f"v{k}: {n}" for k, n in sorted(per.items()))
                typer.echo(f"  {where}: {counts}")

    _run(main)


@app.command("rotate")
def rotate(tenant: str | None = typer.Option(None, help=TENANT_HELP)) -> None:
    """Create a new data-key version; new writes use it (other replicas within the cache time)."""
    from vaxport.core.crypto import rotation

    async def main(db: Database) -> None:
        for tid in await _tenant_ids(db, tenant):
            version = await rotation.rotate(db, tenant_id=tid)
            typer.echo(f"tenant {tid}: data key version {version} is active")
        typer.echo("next: vaxport keys reencrypt, then vaxport keys retire")

    _run(main)


@app.command("reencrypt")
def reencrypt(
    tenant: str | None = typer.Option(None, help=TENANT_HELP),
    batch: int = typer.Option(500, min=1, max=100_000, help="Rows per transaction."),
    max_batches: int | None = typer.Option(None, min=1, help="Stop after this many batches."),
) -> None:
    """Re-encrypt values still on old data-key versions (resumable: just run it again)."""
    from vaxport.core.crypto import reencrypt as jobs

    async def main(db: Database) -> None:
        for tid in await _tenant_ids(db, tenant):
            result = await jobs.reencrypt(
                db, tenant_id=tid, batch=batch, max_batches=max_batches, echo=_echo
            )
            state = "done" if result.complete else "stopped early; run again to continue"
            typer.echo(f"tenant {tid}: {result.updated} updated, {state}")

    _run(main)


@app.command("retire")
def retire(tenant: str | None = typer.Option(None, help=TENANT_HELP)) -> None:
    """Retire old data-key versions once no stored value uses them."""
    from vaxport.core.crypto import rotation

    async def main(db: Database) -> None:
        for tid in await _tenant_ids(db, tenant):
            versions = await rotation.retire(db, tenant_id=tid)
            typer.echo(f"tenant {tid}: retired {versions or 'nothing'}")

    _run(main)


@app.command("rotate-index")
def rotate_index(
    tenant: str | None = typer.Option(None, help=TENANT_HELP),
    batch: int = typer.Option(500, min=1, max=100_000, help="Rows per transaction."),
    max_batches: int | None = typer.Option(None, min=1, help="Stop after this many batches."),
) -> None:
    """New blind-index key and rebuild of every blind index (resumable)."""
    from vaxport.core.crypto import reencrypt as jobs

    async def main(db: Database) -> None:
        for tid in await _tenant_ids(db, tenant):
            result = await jobs.rotate_index(
                db, tenant_id=tid, batch=batch, max_batches=max_batches, echo=_echo
            )
            state = "done" if result.complete else "not finished; run again to continue"
            typer.echo(f"tenant {tid}: {result.updated} blind indexes rebuilt, {state}")

    _run(main)


@app.command("rotate-kek")
def rotate_kek(
    ctx: typer.Context,
    batch: int = typer.Option(200, min=1, max=10_000, help="Data keys per transaction."),
    max_batches: int | None = typer.Option(None, min=1, help="Stop after this many batches."),
    keep_old: bool = typer.Option(False, help="Keep old local KEK versions in the key file."),
) -> None:
    """Re-wrap every data key under a new key-encryption key (resumable)."""
    from vaxport.core.crypto.kek import rotate_kek as run

    # The application's tables (some hold wrapped keys), from the root command's parts.
    metadata = getattr(ctx.obj, "metadata", None)
    if not isinstance(metadata, MetaData):
        raise RuntimeError("run through the vaxport command: its parts hold the tables")

    async def main(db: Database) -> None:
        result = await run(
            db,
            metadata=metadata,
            batch=batch,
            max_batches=max_batches,
            keep_old=keep_old,
            echo=_echo,
        )
        state = "done" if result.complete else "stopped early; run again to continue"
        typer.echo(f"{result.updated} data keys re-wrapped, {state}")

    _run(main)
