"""The booking scenarios' setup: people and open seats, then one booking per request.

``book`` sends every request to one of 10 hot slots (many clients on few rows: the
contended case the seat's conditional UPDATE serializes); ``book-spread`` sends them
over 1,000 slots. Each request books a different prefilled person (``lua/book.lua``
reads the ids from a file), as a national administrator whose token the setup makes.
Both run in tenant ``demobook`` (a copy of the demo country with the ``booking`` and
``write`` rate limits lifted: wrk is one address and one account standing for a crowd).

The slots are big enough never to fill during a run: the scenarios measure bookings,
not refusals. People and slots are written straight to the tables by this module run as
a program in the server's environment (``python -m bench.booking fill``): publishing
sessions and registering people are measured by their own scenarios. After a run,
``python -m bench.booking check`` (same environment) reports whether any slot was
oversold (its counter above capacity, or not equal to its live appointments).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from bench import rows, staffing

TENANT = "demobook"
HOT_SLOTS = 10
SPREAD_SLOTS = 1_000
# Each scenario's people (the bench's ``--prefill`` raises it, the environment's
# VAXPORT_BENCH_BOOK_PEOPLE sets it): enough for a 10 s run and its warm-up at a few
# hundred bookings a second.
PEOPLE = int(os.environ.get("VAXPORT_BENCH_BOOK_PEOPLE", "12000"))
_DONE: dict[str, dict[str, Any]] = {}


def _prepared(target: Any) -> dict[str, Any]:
    """Tenant, administrator, people and slots, made once per bench run."""
    if target.base_url in _DONE:
        return _DONE[target.base_url]
    target.migrate()
    staffing.load_tenant_copy(target, TENANT, ("write", "booking"))
    fixed = "VAXPORT_BENCH_BOOK_PEOPLE" in os.environ
    people = PEOPLE if fixed else max(PEOPLE, target.prefill)
    made = staffing.run_fill(target, "bench.booking", "--people", str(people))
    made["headers"] = staffing.staff_headers(target, TENANT, role="national_admin", prefix="book")
    _DONE[target.base_url] = made
    return made


def _scenario(target: Any, which: str) -> Any:
    from bench.scenarios import Prepared

    made = _prepared(target)
    env = {
        "VAXPORT_BENCH_TENANT": TENANT,
        "VAXPORT_BENCH_PEOPLE": made[f"people_{which}"],
        "VAXPORT_BENCH_SLOTS": ",".join(made[f"slots_{which}"]),
    }
    return Prepared(params={"tenant": TENANT}, headers=made["headers"], env=env)


def prepare_hot(target: Any) -> Any:
    """``book``: people and the 10 hot slots."""
    return _scenario(target, "hot")


def prepare_spread(target: Any) -> Any:
    """``book-spread``: other people and 1,000 slots."""
    return _scenario(target, "spread")


# --- run as a program in the server's environment: write people and slots, check ---


async def _fill(people: int, out: Path) -> None:
    from vaxport import wiring
    from vaxport.core.cache import cache_from_url
    from vaxport.core.db import database_from_settings
    from vaxport.settings import get_settings
    from vaxport.tenancy.service import get_tenant_or_404

    wiring.install(wiring.build())
    settings = get_settings()
    db = database_from_settings(settings)
    cache = cache_from_url(settings.redis_url)
    try:
        tenant = await get_tenant_or_404(db=db, cache=cache, code=TENANT)
        centre = await rows.centre(db, cache, tenant)
        day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=3)
        per_hot = people // HOT_SLOTS + 10
        per_spread = people // SPREAD_SLOTS + 10
        made = {
            "slots_hot": await rows.slots(db, tenant.id, centre, day, HOT_SLOTS, per_hot),
            "slots_spread": await rows.slots(db, tenant.id, centre, day, SPREAD_SLOTS, per_spread),
        }
        for which in ("hot", "spread"):
            ids = await rows.people(db, tenant.id, people)
            path = out / f"people-{which}.txt"
            path.write_text("\n".join(str(i) for i in ids) + "\n")
            made[f"people_{which}"] = str(path)  # type: ignore[assignment]
        (out / "made.json").write_text(json.dumps(made))
    finally:
        await cache.close()
        await db.dispose()


async def _check() -> dict[str, Any]:
    from sqlalchemy import func, select

    from vaxport.core.cache import cache_from_url
    from vaxport.core.db import database_from_settings
    from vaxport.scheduling.models import Appointment, Slot
    from vaxport.settings import get_settings
    from vaxport.tenancy.service import get_tenant_or_404

    settings = get_settings()
    db = database_from_settings(settings)
    cache = cache_from_url(settings.redis_url)
    try:
        tenant = await get_tenant_or_404(db=db, cache=cache, code=TENANT)
        async with db.read(tenant_id=tenant.id) as s:
            counters = dict(
                (
                    await s.execute(select(Slot.id, Slot.booked).where(Slot.tenant_id == tenant.id))
                ).all()
            )
            capacity = dict(
                (
                    await s.execute(
                        select(Slot.id, Slot.capacity).where(Slot.tenant_id == tenant.id)
                    )
                ).all()
            )
            rows = dict(
                (
                    await s.execute(
                        select(Appointment.slot_id, func.count())
                        .where(Appointment.tenant_id == tenant.id, Appointment.status == "booked")
                        .group_by(Appointment.slot_id)
                    )
                ).all()
            )
    finally:
        await cache.close()
        await db.dispose()
    oversold = [str(k) for k, v in counters.items() if v > capacity[k]]
    mismatched = [str(k) for k, v in counters.items() if v != rows.get(k, 0)]
    return {
        "appointments": sum(rows.values()),
        "oversold_slots": len(oversold),
        "counter_not_rows": len(mismatched),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.booking")
    sub = parser.add_subparsers(dest="command", required=True)
    fill = sub.add_parser("fill", help="write people and open slots for the scenarios")
    fill.add_argument("--people", type=int, default=PEOPLE)
    fill.add_argument("--out", type=Path, required=True)
    sub.add_parser("check", help="report oversold slots and counters unlike their rows")
    args = parser.parse_args()
    if args.command == "fill":
        asyncio.run(_fill(args.people, args.out))
    else:
        print(json.dumps(asyncio.run(_check())))


if __name__ == "__main__":
    main()
