"""One-off measurement: peak memory and speed of a large facility import.

Writes a CSV (or XLSX) of N valid facilities spread over the demo country's regions,
then imports it in a fresh Python process into a fresh database holding only the demo
tenant, and reports the process's peak RSS before and after the import, and rows/s.
Memory should stay flat as N grows: compare 10,000 with 100,000 rows. A re-import of the
same file (every row unchanged) is timed too. Not a test: run it by hand.

    PYTHONPATH=src:. python bench/facilities_import.py [ROWS ...] [--xlsx]
        [--database-url postgresql+asyncpg://...]   # default: a temporary SQLite file
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

from bench.import_files import rss_mib, run_child, write_table

ROOT = Path(__file__).resolve().parent.parent
HEADER = [
    "code", "name", "name_fr", "type", "region_code", "address", "postal_code", "latitude",
    "longitude", "phone", "email", "vaccines", "hours_mon", "hours_tue", "hours_wed",
    "hours_thu", "hours_fri", "hours_sat", "exceptions", "daily_capacity", "stations",
]  # fmt: skip


def _rows(n: int) -> Iterator[list[str]]:
    config = yaml.safe_load((ROOT / "countries" / "demo.yaml").read_text())
    items = config["regions"]["items"]
    leaves = [r["code"] for r in items if r["code"] not in {i.get("parent") for i in items}]
    rng = random.Random(7)
    products = ["covid-mrna", "covid-protein", "mmr", "hpv"]
    for i in range(n):
        region = leaves[i % len(leaves)]
        yield [
            f"F{i:07d}",
            f"Centre {i} of {region}",
            f"Centre {i} de {region}",
            rng.choice(["public", "private", "mobile", "outreach"]),
            region,
            f"{rng.randint(1, 999)} Main Street, Town {i % 997}",
            f"D{rng.randint(1, 9)}A {rng.randint(0, 9)}B{rng.randint(0, 9)}",
            f"{43 + rng.random() * 6:.5f}",
            f"{-80 + rng.random() * 7:.5f}",
            f"+1 613 555 01{rng.randint(0, 99):02d}",
            f"centre{i}@demoland.example",
            ";".join(sorted(rng.sample(products, rng.randint(1, 4)))),
            *(["08:00-12:00, 13:00-17:00"] * 5),
            "09:00-13:00" if i % 3 == 0 else "",
            "2026-12-25 closed; 2026-12-26 closed",
            str(rng.randrange(80, 600, 20)),
            str(rng.randint(1, 8)),
        ]


def write_file(path: Path, n: int, xlsx: bool) -> None:
    """The file of ``n`` generated rows."""
    write_table(path, HEADER, _rows(n), xlsx)


async def child(path: Path, url: str) -> None:
    """Runs in the measured process: migrate, load the demo tenant, import twice."""
    from vaxport import wiring
    from vaxport.core import migrate
    from vaxport.core.cache import Cache, MemoryBackend
    from vaxport.core.db import Database
    from vaxport.core.imports.readers import kind_of
    from vaxport.core.principal import OPERATOR
    from vaxport.facilities.importer import import_file
    from vaxport.tenancy.loader import load
    from vaxport.tenancy.service import get_tenant_or_404

    db = Database(url)
    cache = Cache(MemoryBackend())
    parts = wiring.build()
    await migrate.upgrade(db, metadata=parts.metadata)
    wiring.install(parts)
    await load(db=db, cache=cache, path=ROOT / "countries" / "demo.yaml", rules=parts.config_rules)
    tenant = await get_tenant_or_404(db=db, cache=cache, code="demo")
    before = rss_mib()
    out: dict[str, float] = {"rss_before_mib": before}
    for label in ("first", "again"):
        start = time.perf_counter()
        summary = await import_file(
            db=db,
            cache=cache,
            tenant=tenant,
            path=path,
            kind=kind_of(path.name),
            report=io.StringIO(),
            by=OPERATOR,
        )
        seconds = time.perf_counter() - start
        out[f"{label}_seconds"] = seconds
        out[f"{label}_rows_per_s"] = summary.rows / seconds
        out[f"{label}_created"] = summary.created
        out[f"{label}_unchanged"] = summary.unchanged
        out[f"rss_after_{label}_mib"] = rss_mib()
    await db.dispose()
    print(json.dumps(out))


def measure(n: int, xlsx: bool, database_url: str | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("facilities.xlsx" if xlsx else "facilities.csv")
        write_file(path, n, xlsx)
        url = database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        result = run_child(__file__, str(path), url)
        result["file_mib"] = path.stat().st_size / 2**20
        return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        asyncio.run(child(Path(sys.argv[2]), sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument("--xlsx", action="store_true")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    if args.database_url and len(args.rows) > 1:
        parser.error("with --database-url give one size (each run needs an empty database)")
    print(f"{'rows':>8} {'file MiB':>9} {'RSS before':>11} {'RSS peak':>9} "
          f"{'import s':>9} {'rows/s':>8} {'re-import rows/s':>17}")  # fmt: skip
    for n in args.rows:
        r = measure(n, args.xlsx, args.database_url)
        print(
            f"{n:>8} {r['file_mib']:>9.1f} {r['rss_before_mib']:>10.1f}M "
            f"{r['rss_after_again_mib']:>8.1f}M {r['first_seconds']:>9.1f} "
            f"{r['first_rows_per_s']:>8.0f} {r['again_rows_per_s']:>17.0f}"
        )


if __name__ == "__main__":
    main()
