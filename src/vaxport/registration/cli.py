"""``vaxport person ...``: subject-access export and erasure of one person (operators).

Name the person by ``--beneficiary-id`` or by ``--id-type`` and ``--id-number``. Both
commands are audited as the operator; ``erase`` follows the API's rules (refused for
vaccinated people, whose records the tenant's retention rule keeps).
"""

from __future__ import annotations

import json
import uuid

import typer

from vaxport.core.cache import cache_from_url
from vaxport.core.cli_support import run_with_db
from vaxport.core.db import Database
from vaxport.core.errors import Problem
from vaxport.registration import service
from vaxport.settings import get_settings
from vaxport.tenancy.service import TenantInfo, get_tenant_or_404

app = typer.Typer(help="One person's data: subject-access export, erasure.", no_args_is_help=True)

TenantOpt = typer.Option(..., "--tenant", "-t", help="Tenant code.")
IdOpt = typer.Option(None, "--beneficiary-id", help="The person's id.")
TypeOpt = typer.Option(None, "--id-type", help="ID document type (with --id-number).")
NumberOpt = typer.Option(None, "--id-number", help="ID document number (with --id-type).")


def _fail(problem: Problem) -> typer.Exit:
    typer.echo(f"error: {problem.detail}", err=True)
    for e in problem.errors:
        typer.echo(f"  {e['field']}: {e['reason']}", err=True)
    return typer.Exit(1)


async def _tenant(db: Database, code: str) -> TenantInfo:
    cache = cache_from_url(get_settings().redis_url)
    try:
        return await get_tenant_or_404(db=db, cache=cache, code=code)
    finally:
        await cache.close()


@app.command("export")
def export_cmd(
    tenant: str = TenantOpt,
    beneficiary_id: uuid.UUID | None = IdOpt,
    id_type: str | None = TypeOpt,
    id_number: str | None = NumberOpt,
) -> None:
    """Print everything held about one person as JSON (a subject-access request)."""

    async def run(db: Database) -> dict[str, object]:
        info = await _tenant(db, tenant)
        pid = await service.find_person(
            db=db, tenant=info, beneficiary_id=beneficiary_id, id_type=id_type, number=id_number
        )
        return await service.export_person(db=db, tenant=info, beneficiary_id=pid)

    try:
        data = run_with_db(run)
    except Problem as problem:
        raise _fail(problem) from None
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@app.command("erase")
def erase_cmd(
    tenant: str = TenantOpt,
    beneficiary_id: uuid.UUID | None = IdOpt,
    id_type: str | None = TypeOpt,
    id_number: str | None = NumberOpt,
) -> None:
    """Erase a never-vaccinated person: rows deleted, their key destroyed."""

    async def run(db: Database) -> uuid.UUID:
        info = await _tenant(db, tenant)
        pid = await service.find_person(
            db=db, tenant=info, beneficiary_id=beneficiary_id, id_type=id_type, number=id_number
        )
        await service.erase_person(db=db, tenant=info, beneficiary_id=pid)
        return pid

    try:
        pid = run_with_db(run)
    except Problem as problem:
        raise _fail(problem) from None
    typer.echo(f"erased {pid}")
