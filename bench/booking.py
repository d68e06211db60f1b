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
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

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
    from bench.scenarios import ScenarioUnavailable, _tail

    if target.base_url in _DONE:
        return _DONE[target.base_url]
    target.migrate()
    _load_tenant(target)
    fixed = "VAXPORT_BENCH_BOOK_PEOPLE" in os.environ
    people = PEOPLE if fixed else max(PEOPLE, target.prefill)
    out = Path(tempfile.mkdtemp(prefix="vaxport-bench-book-"))
    done = subprocess.run(
        [sys.executable, "-m", "bench.booking", "fill", "--people", str(people),
         "--out", str(out)],
        cwd=target.repo_root, env=target.env, capture_output=True, text=True, check=False,
        timeout=1800,
    )  # fmt: skip
    if done.returncode != 0:
        raise ScenarioUnavailable(f"booking prefill failed:\n{_tail(done)}")
    made: dict[str, Any] = json.loads((out / "made.json").read_text())
    made["headers"] = _admin_headers(target)
    _DONE[target.base_url] = made
    return made


def _load_tenant(target: Any) -> None:
    import yaml

    from bench.scenarios import ScenarioUnavailable, _tail

    data: Any = yaml.safe_load((target.repo_root / "countries" / "demo.yaml").read_text())
    data["code"] = TENANT
    unlimited = {"ip": "unlimited", "account": "unlimited"}
    data["rate_limits"] = {"write": unlimited, "booking": unlimited}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{TENANT}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
        done = target.cli("tenant", "load", str(path))
    if done.returncode != 0:
        raise ScenarioUnavailable(f"`vaxport tenant load` failed:\n{_tail(done)}")


def _admin_headers(target: Any) -> dict[str, str]:
    """A national administrator of the tenant, enrolled in TOTP and logged in."""
    import httpx

    from bench.scenarios import _BENCH_PASSWORD, ScenarioUnavailable, _ok, _tail
    from vaxport.core.clock import utcnow
    from vaxport.identity.login import totp

    username = f"book{int(time.time())}"
    done = target.cli(
        "user", "create", "--tenant", TENANT, "--username", username, "--role", "national_admin"
    )
    if done.returncode != 0 or "token=" not in done.stdout:
        raise ScenarioUnavailable(f"`vaxport user create` failed:\n{_tail(done)}")
    token = done.stdout.rsplit("token=", 1)[1].split()[0]
    auth = f"{target.base_url}/api/v1/{TENANT}/auth"
    with httpx.Client(timeout=30) as client:
        step = _ok(
            client.post(auth + "/activate", json={"token": token, "password": _BENCH_PASSWORD}),
            "activation",
        )
        secret = _ok(client.post(auth + "/enrolment", json={"ticket": step["ticket"]}), "enrolment")
        code = totp.code_at(secret["secret"], utcnow())
        login = _ok(
            client.post(auth + "/enrolment/confirm", json={"ticket": step["ticket"], "code": code}),
            "enrolment confirmation",
        )
    return {"Authorization": f"Bearer {login['access_token']}"}


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
        centre = await _centre(db, cache, tenant)
        day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=3)
        per_hot = people // HOT_SLOTS + 10
        per_spread = people // SPREAD_SLOTS + 10
        made = {
            "slots_hot": await _slots(db, tenant.id, centre, day, HOT_SLOTS, per_hot),
            "slots_spread": await _slots(db, tenant.id, centre, day, SPREAD_SLOTS, per_spread),
        }
        for which in ("hot", "spread"):
            ids = await _people(db, tenant.id, people)
            path = out / f"people-{which}.txt"
            path.write_text("\n".join(str(i) for i in ids) + "\n")
            made[f"people_{which}"] = str(path)  # type: ignore[assignment]
        (out / "made.json").write_text(json.dumps(made))
    finally:
        await cache.close()
        await db.dispose()


async def _centre(db: Any, cache: Any, tenant: Any) -> uuid.UUID:
    from vaxport.facilities import service as facilities
    from vaxport.facilities.schemas import FacilityCreate

    data = FacilityCreate.model_validate(
        {
            "code": f"BOOK-{uuid.uuid4().hex[:6].upper()}",
            "name": {"en": "Bench Booking Centre"},
            "type": "public",
            "region_code": "CEN-01-01",
            "address": "1 Bench Road",
            "location": {"lat": 45.42, "lon": -75.69},
        }
    )
    made = await facilities.create(db=db, cache=cache, tenant=tenant, data=data)
    return made.id


async def _slots(
    db: Any, tenant_id: uuid.UUID, centre: uuid.UUID, day: dt.date, count: int, seats: int
) -> list[str]:
    """``count`` open slots of ``seats`` seats, 100 per session, from 08:00 UTC on ``day``."""
    from vaxport.core.ids import uuid7
    from vaxport.scheduling.models import Session, Slot

    ids: list[str] = []
    per_session = 100
    for first in range(0, count, per_session):
        n = min(per_session, count - first)
        start = dt.datetime.combine(day, dt.time(8, 0), tzinfo=dt.UTC)
        session_id = uuid7()
        async with db.transaction(tenant_id=tenant_id) as uow:
            uow.session.add(
                Session(
                    id=session_id, tenant_id=tenant_id, facility_id=centre,
                    region_code="CEN-01-01", product_id="covid-mrna", dose_numbers=[1, 2],
                    eligibility={}, day=day, starts_at=start,
                    ends_at=start + dt.timedelta(minutes=n), slot_minutes=1,
                    capacity=n * seats, status="open",
                )
            )  # fmt: skip
            await uow.session.flush()
            for k in range(n):
                slot_id = uuid7()
                ids.append(str(slot_id))
                uow.session.add(
                    Slot(
                        id=slot_id, tenant_id=tenant_id, session_id=session_id,
                        facility_id=centre, region_code="CEN-01-01", product_id="covid-mrna",
                        day=day, starts_at=start + dt.timedelta(minutes=k),
                        ends_at=start + dt.timedelta(minutes=k + 1), capacity=seats, booked=0,
                        status="open",
                    )
                )  # fmt: skip
    return ids


async def _people(db: Any, tenant_id: uuid.UUID, count: int) -> list[uuid.UUID]:
    """``count`` adults without an account (names and birth dates encrypted), in batches."""
    from vaxport.core.ids import short_code, uuid7
    from vaxport.registration.models import Beneficiary

    ids: list[uuid.UUID] = []
    batch = 500
    for first in range(0, count, batch):
        async with db.transaction(tenant_id=tenant_id) as uow:
            for n in range(first, min(count, first + batch)):
                person = Beneficiary(
                    id=uuid7(), tenant_id=tenant_id, reference=short_code(8), status="active",
                    birth_year=1950 + n % 50, sex="female", region_code="CEN-01-01",
                    created_via="staff", version=1,
                )  # fmt: skip
                person.given_name = f"Bench{n}"
                person.birth_date = dt.date(1950 + n % 50, 1 + n % 12, 1 + n % 28)
                uow.session.add(person)
                ids.append(person.id)
    return ids


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
