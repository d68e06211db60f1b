"""One-off measurement: peak memory and speed of a large beneficiary import.

Writes a CSV (or XLSX) of N valid people (unique Luhn-valid national IDs, spread over the
demo country's leaf regions), then imports it in a fresh Python process into a fresh
database holding only the demo tenant, exactly as the worker does (``importer.run``:
validation, encryption under a key per person, blind indexes, an audit entry each), and
reports the process's peak RSS before and after, and rows/s. A re-import of the same file
(every row ``existing``) is timed too. Memory should stay flat as N grows: compare 20,000
with 200,000 rows. Not a test (minutes on a busy machine): run it by hand.

    PYTHONPATH=src:. python bench/registration_import.py [ROWS ...] [--xlsx] [--no-again]
        [--database-url postgresql+asyncpg://...]   # default: a temporary SQLite file
"""

from __future__ import annotations

import argparse
import asyncio
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
    "given_name", "family_name", "sex", "birth_date", "id_type", "id_number", "phone",
    "email", "region_code", "preferred_locale",
]  # fmt: skip
GIVEN = ["Amina", "Jean", "Lucía", "Kwame", "Mei", "Olga", "Pierre", "Sara", "Tariq", "Zoé"]
FAMILY = ["Okafor", "Tremblay", "García", "Mensah", "Chen", "Ivanova", "Martin", "Haddad"]


def _luhn(payload: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return payload + str((10 - total % 10) % 10)


def rows(n: int) -> Iterator[list[str]]:
    """N valid people with distinct national IDs (deterministic)."""
    config = yaml.safe_load((ROOT / "countries" / "demo.yaml").read_text())
    items = config["regions"]["items"]
    leaves = [r["code"] for r in items if r["code"] not in {i.get("parent") for i in items}]
    rng = random.Random(7)
    for i in range(n):
        yield [
            rng.choice(GIVEN),
            rng.choice(FAMILY),
            rng.choice(["female", "male"]),
            f"{rng.randint(1940, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "national-id",
            _luhn(f"{100_000_000 + i:09d}"),
            f"+1 613 555 {rng.randint(0, 9999):04d}",
            f"person{i}@example.org",
            leaves[i % len(leaves)],
            rng.choice(["en", "fr"]),
        ]


def write_file(path: Path, n: int, xlsx: bool) -> None:
    """The file of ``n`` generated rows."""
    write_table(path, HEADER, rows(n), xlsx)


async def child(path: Path, url: str, again: bool) -> None:
    """Runs in the measured process: migrate, load the demo tenant, import (twice)."""
    from vaxport import wiring
    from vaxport.core import migrate
    from vaxport.core.cache import Cache, MemoryBackend
    from vaxport.core.crypto import configure_keyring
    from vaxport.core.db import Database
    from vaxport.core.imports.readers import kind_of
    from vaxport.registration.imports import importer
    from vaxport.registration.imports import service as imports
    from vaxport.settings import Settings
    from vaxport.tenancy.loader import load
    from vaxport.tenancy.service import get_tenant_or_404

    settings = Settings(env="test", data_dir=path.parent, key_file=path.parent / "keys.json")
    configure_keyring(settings)
    db = Database(url)
    cache = Cache(MemoryBackend())
    parts = wiring.build()
    await migrate.upgrade(db, metadata=parts.metadata)
    wiring.install(parts)
    await load(db=db, cache=cache, path=ROOT / "countries" / "demo.yaml", rules=parts.config_rules)
    tenant = await get_tenant_or_404(db=db, cache=cache, code="demo")
    out: dict[str, float] = {"rss_before_mib": rss_mib()}
    for label in ("first", "again") if again else ("first",):
        start = time.perf_counter()
        started = await imports.create(
            db=db, settings=settings, tenant=tenant, upload=path, kind=kind_of(path.name),
            actor_id=None, actor_role="operator", within_region=None, queue=False,
        )  # fmt: skip
        await importer.run(
            db=db, tenant=tenant, import_id=started.id, path=path, actor_role="operator"
        )
        seconds = time.perf_counter() - start
        done = await imports.status(db=db, tenant=tenant, import_id=started.id)
        out[f"{label}_seconds"] = seconds
        out[f"{label}_rows_per_s"] = done.rows_read / seconds
        out[f"{label}_created"] = done.rows_created
        out[f"{label}_existing"] = done.rows_existing
        out[f"rss_after_{label}_mib"] = rss_mib()
    await db.dispose()
    print(json.dumps(out))


def measure(n: int, xlsx: bool, database_url: str | None, again: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("people.xlsx" if xlsx else "people.csv")
        write_file(path, n, xlsx)
        url = database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        result = run_child(__file__, str(path), url, "1" if again else "0")
        result["file_mib"] = path.stat().st_size / 2**20
        return result


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        asyncio.run(child(Path(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="*", type=int, default=[20_000, 200_000])
    parser.add_argument("--xlsx", action="store_true")
    parser.add_argument("--no-again", action="store_true", help="skip the re-import")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    if args.database_url and len(args.rows) > 1:
        parser.error("with --database-url give one size (each run needs an empty database)")
    print(f"{'rows':>8} {'file MiB':>9} {'RSS before':>11} {'RSS peak':>9} "
          f"{'import s':>9} {'rows/s':>8} {'re-import rows/s':>17}")  # fmt: skip
    for n in args.rows:
        r = measure(n, args.xlsx, args.database_url, not args.no_again)
        peak = r.get("rss_after_again_mib", r["rss_after_first_mib"])
        print(
            f"{n:>8} {r['file_mib']:>9.1f} {r['rss_before_mib']:>10.1f}M {peak:>8.1f}M "
            f"{r['first_seconds']:>9.1f} {r['first_rows_per_s']:>8.0f} "
            f"{r.get('again_rows_per_s', 0):>17.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
