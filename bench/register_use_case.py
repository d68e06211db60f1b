"""The CPU one registration costs the use case itself, in process (run by hand).

    PYTHONPATH=src:. python -m bench.register_use_case \
        --url postgresql+asyncpg://postgres@127.0.0.1:5432/bench_reg_micro [--count 1500]

No HTTP, no middleware: ``registration.service.register_member`` called by a national
admin, ``--concurrency`` registrations at once, each a new person with a document, a
phone and an e-mail, half of them with an Idempotency-Key's kept answer (``--keep``
otherwise all or none). The database of ``--url`` is dropped and created empty, migrated
and given a copy of the demo country; ``--prefill`` people are registered first (the
look-alike lookup meets a populated region). Each round prints the process's CPU per
registration and registrations per second; ``--profile FILE`` writes cProfile stats of
the last round. On a shared machine compare rounds of two builds run in turn.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import itertools
import secrets
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url

from vaxport import wiring
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.crypto import set_keyring
from vaxport.core.crypto.keyring import Keyring
from vaxport.core.crypto.providers import LocalKeyFileProvider
from vaxport.core.db import Database
from vaxport.core.idempotency import Claim, Keep
from vaxport.identity.service import Actor
from vaxport.registration import service
from vaxport.registration.schemas import CreatedMemberOut, MemberIn
from vaxport.tenancy import service as tenancy
from vaxport.tenancy.checksums import luhn_check_digit
from vaxport.tenancy.loader import load

PARTS = wiring.build()
ROOT = Path(__file__).resolve().parent.parent
_SEQ = itertools.count()


async def _fresh_database(url: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    u = make_url(url)
    conn = await asyncpg.connect(
        host=u.host, port=u.port or 5432, user=u.username, password=u.password, database="postgres"
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{u.database}"')
    finally:
        await conn.close()


def _person(run: str) -> MemberIn:
    n = next(_SEQ)
    payload = f"{secrets.randbelow(10**9):09d}"
    return MemberIn.model_validate(
        {
            "given_name": f"Micro{run}{n}",
            "family_name": "Bench",
            "sex": "female",
            "birth_date": "1980-05-17",
            "documents": [
                {"id_type": "national-id", "number": payload + luhn_check_digit(payload)}
            ],
            "phone": f"+1613555{n % 10_000:04d}",
            "email": f"micro{run}{n}@example.org",
            "region_code": "CEN-01-01",
        }
    )


def _keep(tenant_id: uuid.UUID, actor: Actor) -> Keep[CreatedMemberOut] | None:
    claim = Claim(
        tenant_id=tenant_id,
        scope=f"bench:{actor.account_id}",
        key=uuid.uuid4().hex,
        fingerprint=secrets.token_hex(16),
        ttl=dt.timedelta(hours=24),
    )
    return service.kept_answer(claim, "/api/v1/bench/beneficiaries/", CreatedMemberOut)


async def _round(
    db: Database, tenant: Any, actor: Actor, *, count: int, concurrency: int, keep: str, run: str
) -> tuple[float, float]:
    bodies = [_person(run) for _ in range(count)]
    queue = iter(range(count))

    async def worker() -> None:
        for i in queue:
            use_key = keep == "all" or (keep == "half" and i % 2 == 0)
            await service.register_member(
                db=db,
                tenant=tenant,
                actor=actor,
                body=bodies[i],
                keep=_keep(tenant.id, actor) if use_key else None,
            )

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - cpu) / count * 1e3, count / (time.perf_counter() - wall)


async def main(args: argparse.Namespace) -> None:
    await _fresh_database(args.url)
    tmp = Path(tempfile.mkdtemp(prefix="vaxport-register-micro-"))
    set_keyring(Keyring(LocalKeyFileProvider(tmp / "keys.json", create_if_missing=True)))
    db = Database(args.url, pool_size=10, max_overflow=10)
    from vaxport.core import migrate

    await migrate.upgrade(db, metadata=PARTS.metadata)
    wiring.install(PARTS)
    cache = Cache(MemoryBackend())
    data: Any = yaml.safe_load((ROOT / "countries" / "demo.yaml").read_text())
    data["code"] = "micro"
    path = tmp / "micro.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    await load(db=db, cache=cache, path=path, rules=PARTS.config_rules)
    tenant = await tenancy.get_tenant_or_404(db=db, cache=cache, code="micro")
    actor = Actor(
        account_id=uuid.uuid4(),
        tenant_id=tenant.id,
        tenant_code=tenant.code,
        kind="staff",
        role="national_admin",
        region_code=None,
        facility_id=None,
        auth_time=dt.datetime.now(dt.UTC),
    )
    run = secrets.token_hex(3)
    common = {"concurrency": args.concurrency, "keep": args.keep, "run": run}
    if args.prefill:
        await _round(db, tenant, actor, count=args.prefill, **common)
    async with db.engine.begin() as conn:
        from sqlalchemy import text

        await conn.execute(text("ANALYZE"))
    for r in range(args.rounds):
        last = args.profile and r == args.rounds - 1
        profiler = cProfile.Profile(time.process_time) if last else None
        if profiler is not None:
            profiler.enable()
        cpu_ms, rate = await _round(db, tenant, actor, count=args.count, **common)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        print(f"round {r + 1}: {cpu_ms:.3f} CPU ms/registration, {rate:.0f} registrations/s")
    await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, default=1500)
    parser.add_argument("--prefill", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--keep", choices=("none", "half", "all"), default="half")
    parser.add_argument("--profile", default="")
    asyncio.run(main(parser.parse_args()))
