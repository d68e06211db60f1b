"""Test helpers for pages: tenants written straight into the test database."""

from __future__ import annotations

from collections.abc import Sequence

from vaxport.core.db import Database
from vaxport.tenancy.models import Tenant


async def add_tenant(
    db: Database,
    *,
    code: str,
    name: str,
    locales: Sequence[str] = ("en",),
    default_locale: str | None = None,
) -> None:
    """Insert a tenant row with just the configuration pages read (its languages).

    The one place tests create tenants: once the tenancy context's loader is merged, this
    should load a minimal country file through it instead of writing the row directly.
    """
    config = {"locales": list(locales), "default_locale": default_locale or locales[0]}
    async with db.transaction() as uow:
        uow.session.add(Tenant(code=code, name=name, config=config, config_hash="0" * 64))
