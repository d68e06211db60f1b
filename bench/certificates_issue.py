"""Certificates issued per second per worker: the issuance subscriber's whole path.

    PYTHONPATH=src python bench/certificates_issue.py [--url postgresql+asyncpg://...] \
        [--people 300] [--doses 2]

Creates a scratch database (a temporary SQLite file, or a fresh PostgreSQL database on
the server of --url, dropped afterwards), migrates it, loads the demo country with its
demo certificate keys, registers ``--people`` people with ``--doses`` recorded doses
each, then times one process recomputing each person in turn, one transaction each, as
the ``certificates.issuance`` subscriber does for a ``dose.recorded`` event: the
person's record and doses read through the front doors, one EU DCC per dose and one
SMART Health Card listing them signed, the rows written with their payload encrypted
under the person's key, the audit entry and the "certificate ready" message. Prints
people and certificates per second (one worker, one core), and the same for a second
pass that finds nothing to change (a redelivered event).

Measured on the shared 2-core development machine (other test runs beside it), SQLite,
150 people with 2 doses (3 certificates a person), logs to the console: about 85 people
(255 certificates) a second per worker; a pass with nothing to change about 300 people
a second.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

from bench.outbox_drain import drop, scratch
from vaxport import wiring
from vaxport.certificates import service as certificates
from vaxport.core import migrate
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.crypto import set_keyring
from vaxport.core.crypto.keyring import Keyring
from vaxport.core.crypto.providers import LocalKeyFileProvider
from vaxport.core.db import Database
from vaxport.core.ids import short_code, uuid7
from vaxport.immunization.models import Dose
from vaxport.registration.models import Beneficiary
from vaxport.settings import Settings
from vaxport.tenancy.loader import load
from vaxport.tenancy.service import TenantInfo, get_tenant_or_404

PARTS = wiring.build()
ROOT = Path(__file__).resolve().parents[1]


async def _tenant(db: Database, cache: Cache, settings: Settings) -> TenantInfo:
    data: Any = yaml.safe_load((ROOT / "countries" / "demo.yaml").read_text())
    data["code"] = "benchcert"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "benchcert.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
        await load(db=db, cache=cache, path=path, rules=PARTS.config_rules)
    await certificates.init_demo_keys(db, cache, settings, "benchcert", "")
    return await get_tenant_or_404(db=db, cache=cache, code="benchcert")


async def _people(db: Database, tenant: TenantInfo, n: int, doses: int) -> list[uuid.UUID]:
    ids = [uuid7() for _ in range(n)]
    today = dt.datetime.now(dt.UTC).date()
    async with db.transaction(tenant_id=tenant.id) as uow:
        for i, person_id in enumerate(ids):
            person = Beneficiary(
                id=person_id,
                tenant_id=tenant.id,
                reference=short_code(8),
                status="active",
                birth_year=1980,
                sex="female",
                region_code="NOR-01-01",
                created_via="staff",
                version=1,
            )
            person.given_name, person.family_name = f"Person{i}", "Bench"
            person.birth_date = dt.date(1980, 1, 1)
            uow.session.add(person)
            for number in range(1, doses + 1):
                day = today - dt.timedelta(days=30 * (doses - number) + 1)
                uow.session.add(
                    Dose(
                        tenant_id=tenant.id,
                        beneficiary_id=person_id,
                        product_id="covid-mrna",
                        series="covid-19",
                        dose_number=number,
                        administered_at=dt.datetime.combine(day, dt.time(10), tzinfo=dt.UTC),
                        day=day,
                        region_code="NOR-01-01",
                        status="recorded",
                        source="online",
                        overridden=False,
                        version=1,
                    )
                )
    return ids


async def _pass(
    db: Database, tenant: TenantInfo, people: list[uuid.UUID], settings: Settings
) -> tuple[float, int]:
    issued = 0
    t0 = time.perf_counter()
    for person_id in people:
        out = await certificates.recompute_people(
            db, tenant, [person_id], public_url=settings.public_url
        )
        issued += len(out.issued)
    return time.perf_counter() - t0, issued


async def main(url: str | None, people: int, doses: int) -> None:
    target, name = await scratch(url)
    with tempfile.TemporaryDirectory() as keys:
        set_keyring(Keyring(LocalKeyFileProvider(Path(keys) / "k.json", create_if_missing=True)))
        settings = Settings(env="test", database_url=target)
        db = Database(target)
        try:
            await migrate.upgrade(db, metadata=PARTS.metadata)
            cache = Cache(MemoryBackend())
            wiring.install(PARTS)
            tenant = await _tenant(db, cache, settings)
            ids = await _people(db, tenant, people, doses)
            await _pass(db, tenant, ids[:10], settings)  # warm-up (signers, key caches)
            seconds, issued = await _pass(db, tenant, ids[10:], settings)
            n = len(ids) - 10
            print(
                f"issue: {n / seconds:.1f} people/s, {issued / seconds:.1f} certificates/s "
                f"per worker ({issued} certificates, {doses} doses a person)"
            )
            seconds, again = await _pass(db, tenant, ids[10:], settings)
            print(f"unchanged: {n / seconds:.1f} people/s ({again} issued)")
        finally:
            await db.dispose()
            if url:
                await drop(url, name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=None)
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--doses", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.url, args.people, args.doses))
