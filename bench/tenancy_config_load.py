"""One-off measurement: validating and loading a large country's configuration.

Builds a federal-sized region tree (default 36 x 25 x 12 = 11,736 regions) on top of the
demo file, then times: validation, the first load, an unchanged reload, a reload that
renames 10% and drops 5% of the regions, warm ``get_tenant_or_404`` calls, and one
subtree query (with its PostgreSQL plan). Not a test: run it by hand and read the numbers.

    PYTHONPATH=src python bench/tenancy_config_load.py [DATABASE_URL] [REDIS_URL]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete, text

from vaxport import wiring
from vaxport.core import migrate
from vaxport.core.cache import cache_from_url
from vaxport.core.db import Database
from vaxport.tenancy import service
from vaxport.tenancy.models import Region, Tenant, TenantConfigVersion
from vaxport.tenancy.validation import validate_file

PARTS = wiring.build()

ROOT = Path(__file__).resolve().parent.parent


def big_config(states: int = 36, districts: int = 25, blocks: int = 12) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "countries" / "demo.yaml").read_text())
    data["code"] = "bigland"
    items: list[dict[str, Any]] = []
    bands = data["regions"]["age_bands"]
    for s in range(states):
        sc = f"S{s:02d}"
        items.append({"code": sc, "name": {"en": f"State {s}", "fr": f"État {s}"}})
        for d in range(districts):
            dc = f"{sc}-D{d:02d}"
            items.append({"code": dc, "parent": sc, "name": f"District {s}.{d}"})
            for b in range(blocks):
                items.append(
                    {
                        "code": f"{dc}-B{b:02d}",
                        "parent": dc,
                        "name": f"Block {s}.{d}.{b}",
                        "population": dict.fromkeys(bands, 1000 + b),
                    }
                )
    data["regions"]["items"] = items
    return data


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return path


async def timed(label: str, coro: Any) -> Any:
    start = time.perf_counter()
    result = await coro
    print(f"{label:<44} {time.perf_counter() - start:8.3f} s")
    return result


async def main(url: str, redis_url: str) -> None:
    db = Database(url)
    cache = cache_from_url(redis_url, prefix="vaxport-bench-tenancy")
    await migrate.upgrade(db, metadata=PARTS.metadata)
    wiring.install(PARTS)
    with tempfile.TemporaryDirectory() as tmp:
        data = big_config()
        n = len(data["regions"]["items"])
        path = write(Path(tmp) / "bigland.yaml", data)
        scheme = url.split(":", maxsplit=1)[0]
        print(f"{scheme}: {n} regions, file {path.stat().st_size / 1e6:.1f} MB")
        start = time.perf_counter()
        validate_file(path, rules=PARTS.config_rules)
        print(f"{'validate':<44} {time.perf_counter() - start:8.3f} s")
        r = await timed(
            "load (created)", service.load(db=db, cache=cache, path=path, rules=PARTS.config_rules)
        )
        print("   ", r.status, r.version, r.regions_added)
        r = await timed(
            "load again (unchanged)",
            service.load(db=db, cache=cache, path=path, rules=PARTS.config_rules),
        )
        print("   ", r.status)
        items = data["regions"]["items"]
        for i, item in enumerate(items):
            if i % 10 == 5:
                item["name"] = f"Renamed {i}"
        data["regions"]["items"] = [
            x for i, x in enumerate(items) if not (x["code"].endswith("-B11") and i % 2)
        ]
        changed = write(Path(tmp) / "bigland2.yaml", data)
        r = await timed(
            "load changed (rename 10%, drop ~4%)",
            service.load(db=db, cache=cache, path=changed, rules=PARTS.config_rules),
        )
        print("   ", r.status, r.version, r.regions_updated, r.regions_deactivated)

        tenant = await service.get_tenant_or_404(db=db, cache=cache, code="bigland")
        rounds = 2000
        start = time.perf_counter()
        for _ in range(rounds):
            await service.get_tenant_or_404(db=db, cache=cache, code="bigland")
        per = (time.perf_counter() - start) / rounds * 1e6
        print(f"{'get_tenant_or_404 (warm, per call)':<44} {per:8.1f} us")
        start = time.perf_counter()
        for _ in range(rounds):
            service.is_in_subtree(tenant=tenant, region_code="S20-D10-B05", ancestor_code="S20")
        per = (time.perf_counter() - start) / rounds * 1e6
        print(f"{'is_in_subtree (per call)':<44} {per:8.2f} us")
        sub = await timed(
            "region_subtree(S07) ", service.region_subtree(db=db, tenant_id=tenant.id, code="S07")
        )
        print("   ", len(sub), "regions")
        if db.is_postgres:
            async with db.engine.connect() as conn:
                await conn.execute(text("ANALYZE regions"))
                plan = await conn.execute(
                    text(
                        "EXPLAIN SELECT * FROM regions WHERE tenant_id = :t "
                        "AND path >= '/S07/' AND path < '/S070' AND active"
                    ),
                    {"t": str(tenant.id)},
                )
                print("    plan:", " | ".join(row[0].strip() for row in plan))
        async with db.transaction() as uow:
            for model, column in (
                (Region, Region.tenant_id),
                (TenantConfigVersion, TenantConfigVersion.tenant_id),
                (Tenant, Tenant.id),
            ):
                await uow.session.execute(delete(model).where(column == tenant.id))
    await cache.close()
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(
        main(
            sys.argv[1] if len(sys.argv) > 1 else "sqlite+aiosqlite:///var/bench-tenancy.db",
            sys.argv[2] if len(sys.argv) > 2 else "",
        )
    )
