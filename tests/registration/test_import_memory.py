"""An import's memory does not grow with its file: the Python heap's peak while importing
ten times more rows stays within a small bound (the 200,000-row RSS measurement is
``bench/registration_import.py``; its numbers are in docs/registration-import.md)."""

from __future__ import annotations

import csv
import gc
import tracemalloc
from pathlib import Path

import pytest

from tests.registration.helpers import national_id
from tests.registration.import_support import HEADER, person
from tests.support.tenants import load_tenant
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.registration import importer, imports
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


@pytest.fixture
async def tenant(clean_db: Database, cache: Cache) -> TenantInfo:
    return await load_tenant(clean_db, cache)


def write(path: Path, n: int) -> Path:
    """``n`` rows: one in ten a new person, the others repeating an earlier row's ID (so
    the in-file duplicate check and the error report grow with the file too)."""
    template = person()
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        last = ""
        for i in range(n):
            if i % 10 == 0:
                last = national_id()
            writer.writerow([last if c == "id_number" else template[c] for c in HEADER])
    return path


async def peak_kib(db: Database, settings: Settings, tenant: TenantInfo, path: Path) -> float:
    started = await imports.create(
        db=db, settings=settings, tenant=tenant, upload=path, kind="csv", actor_id=None,
        actor_role="operator", within_region=None, queue=False,
    )  # fmt: skip
    # Whatever earlier tests left behind is frozen out of the collector's reckoning, so a
    # full collection comes as often as the import's own garbage calls for it: the peak
    # then measures what the import holds, not when the collector happened to run.
    gc.collect()
    gc.freeze()
    tracemalloc.start()
    try:
        await importer.run(
            db=db, tenant=tenant, import_id=started.id, path=path, actor_role="operator"
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        gc.unfreeze()
    done = await imports.status(db=db, tenant=tenant, import_id=started.id)
    assert done.rows_read == done.rows_created + done.rows_invalid
    return peak / 1024


async def test_ten_times_the_rows_do_not_take_more_memory(
    clean_db: Database, settings: Settings, tenant: TenantInfo, tmp_path: Path
) -> None:
    await peak_kib(clean_db, settings, tenant, write(tmp_path / "warm.csv", 300))  # imports, keys
    small = await peak_kib(clean_db, settings, tenant, write(tmp_path / "small.csv", 1_000))
    large = await peak_kib(clean_db, settings, tenant, write(tmp_path / "large.csv", 10_000))
    # Measured: ~1.8 MiB either way. Anything kept per row (a set of IDs: ~170 bytes a
    # row; a problem: ~100) would add 0.9 to 1.5 MiB for the 9,000 extra rows.
    assert large - small < 512, f"peak {small:.0f} KiB at 1,000 rows, {large:.0f} KiB at 10,000"
