"""An import's memory does not grow with its file: what our code holds between batches
while importing ten times more rows stays within a small bound (the 200,000-row RSS measurement is
``bench/registration_import.py``; its numbers are in docs/registration-import.md)."""

from __future__ import annotations

import csv
import gc
import tracemalloc
from pathlib import Path

import pytest

import vaxport
from tests.registration.helpers import national_id
from tests.registration.imports.import_support import HEADER, person
from tests.support.tenants import load_tenant
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.imports.engine import Progress
from vaxport.registration.imports import importer
from vaxport.registration.imports import service as imports
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


async def held_kib(db: Database, settings: Settings, tenant: TenantInfo, path: Path) -> float:
    """The most memory our own code held at the end of a batch, over the whole import.

    Counted from tracemalloc snapshots taken after each batch (garbage collected first),
    limited to allocations made by vaxport's code: the test runner's log capture and the
    database drivers' statement caches (bounded, but warming up over a suite) stay out.
    """
    started = await imports.create(
        db=db, settings=settings, tenant=tenant, upload=path, kind="csv", actor_id=None,
        actor_role="operator", within_region=None, queue=False,
    )  # fmt: skip
    ours = [tracemalloc.Filter(True, f"{Path(vaxport.__file__).parent}/*")]
    held: list[int] = []

    def measure(_: Progress) -> None:
        gc.collect()
        snapshot = tracemalloc.take_snapshot().filter_traces(ours)
        held.append(sum(stat.size for stat in snapshot.statistics("filename")))

    # What the process held before is neither traced nor garbage: frozen, the collections
    # after each batch walk the import's objects alone (the whole heap of a worker that
    # ran hundreds of tests took seconds a batch).
    gc.collect()
    gc.freeze()
    tracemalloc.start()
    try:
        await importer.run(
            db=db, tenant=tenant, import_id=started.id, path=path, actor_role="operator",
            progress=measure,
        )  # fmt: skip
    finally:
        tracemalloc.stop()
        gc.unfreeze()
    done = await imports.status(db=db, tenant=tenant, import_id=started.id)
    assert done.rows_read == done.rows_created + done.rows_invalid
    return max(held) / 1024


async def test_ten_times_the_rows_do_not_take_more_memory(
    clean_db: Database, settings: Settings, tenant: TenantInfo, tmp_path: Path
) -> None:
    await held_kib(clean_db, settings, tenant, write(tmp_path / "warm.csv", 300))  # caches
    small = await held_kib(clean_db, settings, tenant, write(tmp_path / "small.csv", 500))
    large = await held_kib(clean_db, settings, tenant, write(tmp_path / "large.csv", 5_000))
    # Anything our code kept per row (a set of IDs: ~170 bytes a row; a problem's reason:
    # ~90) would add 0.4 to 0.75 MiB for the 4,500 extra rows: well past the bound, at half
    # the rows (and half the time under tracemalloc) of a 1,000/10,000 pair.
    assert large - small < 256, f"held {small:.0f} KiB at 500 rows, {large:.0f} KiB at 5,000"
