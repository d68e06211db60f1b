"""Test helpers for pages: tenants created through the real configuration loader."""

from __future__ import annotations

from collections.abc import Sequence

from tests.support.tenants import load_tenant
from vaxport.core.db import Database


async def add_tenant(
    db: Database,
    *,
    code: str,
    name: str,
    locales: Sequence[str] = ("en",),
    default_locale: str | None = None,
) -> None:
    """Load a copy of the demo country as tenant ``code`` with the given name and languages."""
    await load_tenant(
        db,
        code=code,
        name=name,
        changes={"locales": list(locales), "default_locale": default_locale or locales[0]},
    )
