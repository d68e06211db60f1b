"""The demo's sample facilities: ``countries/demo-facilities.csv`` imported into the demo.

Re-running it changes nothing (the import upserts by code and skips identical rows).
"""

from __future__ import annotations

import io
from pathlib import Path

from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.facilities.importer import import_file
from vaxport.settings import Settings
from vaxport.tenancy.service import get_tenant_or_404

DEMO_FILE = "demo-facilities.csv"


async def load_demo_facilities(
    db: Database, cache: Cache, settings: Settings, tenant_code: str, url: str
) -> list[str]:
    """Import the demo country's centres; the lines saying how many there are."""
    path = Path(settings.countries_dir) / DEMO_FILE
    if not path.is_file():
        return [f"  facilities  none ({path} not found)"]
    tenant = await get_tenant_or_404(db=db, cache=cache, code=tenant_code)
    summary = await import_file(
        db=db,
        cache=cache,
        tenant=tenant,
        path=path,
        kind="csv",
        report=io.StringIO(),
    )
    return [
        f"  facilities  {summary.rows} centres ({summary.created} new, "
        f"{summary.updated} updated); {url}/{tenant_code}/facilities"
    ]
