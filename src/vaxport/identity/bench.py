"""Bench-only routes (``VAXPORT_BENCH_MODE``): what identity adds to a request.

- ``GET /bench/{tenant}/noop/auth``: the no-op behind a staff bearer token, so the
  bench can put a number on token verification and the permission check;
- ``GET /bench/{tenant}/accounts/{account_id}/encrypted|plain``: one account row read
  the hot way (``core.fastread.fetch_one``: a prebuilt statement on the asyncpg
  connection, tenant-scoped), three encrypted fields (display name, e-mail, phone: opened
  with the tenant key this process holds, ``core.crypto.open_column``) against three
  plain columns of the same row (username, role, region), the same query otherwise.
  Public, and answering only a length, never a value: they exist in bench mode only,
  which production refuses to start with.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import bindparam, select
from sqlalchemy.orm import load_only

from vaxport.core.crypto import KeyNotFoundError, open_column
from vaxport.core.errors import NotFound
from vaxport.core.fastread import fetch_one
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.identity.access.edge import PathTenant
from vaxport.identity.models import Account

router = APIRouter(tags=["bench"], include_in_schema=False)

ENCRYPTED = ("display_name", "email", "phone")
PLAIN = ("username", "role", "region_code")
# The ciphertext columns are made by ``encrypted(...)`` at class creation (no annotation).
_COLUMNS: dict[str, list[Any]] = {
    "encrypted": [getattr(Account, f"{name}_enc") for name in ENCRYPTED],
    "plain": [getattr(Account, name) for name in PLAIN],
}


class Empty(BaseModel):
    ok: bool = True


class FieldsRead(BaseModel):
    fields: int
    chars: int


@router.get("/bench/{tenant}/noop/auth", dependencies=[requires("self:read")])
async def bench_noop_authenticated(tenant: str) -> Empty:
    """A GET doing nothing, behind a verified staff token and a permission check."""
    return Empty()


# The hot read: one row by primary key on the asyncpg connection (``core.fastread``).
_ROW = {
    shape: select(*columns).where(
        Account.tenant_id == bindparam("tenant"), Account.id == bindparam("id")
    )
    for shape, columns in _COLUMNS.items()
}


async def _read(ctx: Any, tenant_id: uuid.UUID, account_id: uuid.UUID, shape: str) -> FieldsRead:
    row = await fetch_one(
        ctx.db, _ROW[shape], {"tenant": tenant_id, "id": account_id}, tenant_id=tenant_id
    )
    if row is None:
        raise NotFound("no such account")
    values: list[Any] = list(row)
    if shape == "encrypted":
        try:
            bind = ctx.db.engine.sync_engine
            values = [
                open_column(bind, Account, name, tenant_id=tenant_id, row_id=account_id, raw=raw)
                for name, raw in zip(ENCRYPTED, row, strict=True)
            ]
        except KeyNotFoundError:
            values = await _read_orm(ctx, tenant_id, account_id)  # fetches and caches the key
    return FieldsRead(fields=len(values), chars=sum(len(str(v or "")) for v in values))


async def _read_orm(ctx: Any, tenant_id: uuid.UUID, account_id: uuid.UUID) -> list[Any]:
    """The encrypted fields through the ORM, which fetches (and caches) the row's keys."""
    async with ctx.db.read(tenant_id=tenant_id) as session:
        account = await session.scalar(
            select(Account)
            # tenant_id too: it is part of the ciphertexts' associated data.
            .options(load_only(Account.tenant_id, *_COLUMNS["encrypted"]))
            .where(Account.tenant_id == tenant_id, Account.id == account_id)
        )
        if account is None:
            raise NotFound("no such account")
        return [getattr(account, name) for name in ENCRYPTED]


@router.get(
    "/bench/{tenant}/accounts/{account_id}/encrypted",
    dependencies=[requires("bench:noop", public=True)],
)
async def bench_read_encrypted(tenant: PathTenant, account_id: uuid.UUID, ctx: Ctx) -> FieldsRead:
    """One row, three encrypted fields decrypted."""
    return await _read(ctx, tenant.id, account_id, "encrypted")


@router.get(
    "/bench/{tenant}/accounts/{account_id}/plain",
    dependencies=[requires("bench:noop", public=True)],
)
async def bench_read_plain(tenant: PathTenant, account_id: uuid.UUID, ctx: Ctx) -> FieldsRead:
    """The same row, three plain columns."""
    return await _read(ctx, tenant.id, account_id, "plain")
