"""The immunization scenarios' setup: a centre, its vaccinator, a lot, people and doses.

``record_dose``: every request records dose 1 for a different prefilled person
registered at the centre (``lua/dose.lua`` reads the ids from a file), as the centre's
vaccinator whose token the setup makes, with an Idempotency-Key of its own: the whole use
case (reach, lot, the schedule engine over the person's history, the person marked
vaccinated, the dose, its audit entry, its ``dose.recorded`` event and the kept answer).

``sync``: every request is an offline device's batch of 50 dose records (``lua/sync.lua``),
each for another prefilled person with a client UUID never sent before: every record is
written (the answer's ``accepted`` count is reported as records/s).

``record_dose-appt``: the same, each dose completing the person's appointment of today
(``appointment_id``: scheduling's row completed in the dose's transaction).

``aefi``: every request reports a non-serious adverse event after one of the doses the
prefill recorded (``lua/aefi.lua``): the dose's read, the report, its audit entry.

All run in tenant ``demodose`` (the demo country with the ``write`` rate limit lifted:
wrk is one address and one account standing for a crowd). People, the lot and the doses
are written straight to the tables by this module run as a program in the server's
environment (``python -m bench.doses fill``): registering people and recording doses
are measured by their own scenarios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import Any

from bench import rows, staffing

TENANT = "demodose"
LOT = "BENCH1"
# Enough for a 10 s run and its warm-up at a few hundred doses a second.
PEOPLE = int(os.environ.get("VAXPORT_BENCH_DOSE_PEOPLE", "12000"))
# Records, not requests: 50 a request at a few thousand records a second.
SYNC_PEOPLE = int(os.environ.get("VAXPORT_BENCH_SYNC_PEOPLE", "30000"))
AEFI_DOSES = 2000  # reported on in turn (a dose may have several reports)
APPOINTMENT_PEOPLE = 6000  # booked today: a dose a request, each completing one
_DONE: dict[str, Any] = {}


def _made(target: Any) -> dict[str, Any]:
    """Tenant, centre, lot, people, doses and the vaccinator's token, once per bench run."""
    if target.base_url not in _DONE:
        target.migrate()
        staffing.load_tenant_copy(target, TENANT, ("write",))
        fixed = "VAXPORT_BENCH_DOSE_PEOPLE" in os.environ
        people = PEOPLE if fixed else max(PEOPLE, target.prefill)
        made = staffing.run_fill(
            target, "bench.doses", "--people", str(people), "--sync-people", str(SYNC_PEOPLE),
            "--aefi-doses", str(AEFI_DOSES), "--appointment-people", str(APPOINTMENT_PEOPLE),
        )  # fmt: skip
        made["headers"] = staffing.staff_headers(
            target, TENANT, role="vaccinator", prefix="dose", facility=made["centre"]
        )
        _DONE[target.base_url] = made
    made: dict[str, Any] = _DONE[target.base_url]
    return made


def _prepared(made: dict[str, Any], **env: str) -> Any:
    from bench.scenarios import Prepared

    base = {"VAXPORT_BENCH_TENANT": TENANT, "VAXPORT_BENCH_LOT": LOT}
    return Prepared(params={"tenant": TENANT}, headers=made["headers"], env=base | env)


def prepare(target: Any) -> Any:
    """``record_dose``: people not vaccinated yet, one a request."""
    made = _made(target)
    return _prepared(made, VAXPORT_BENCH_PEOPLE=made["people"])


def prepare_sync(target: Any) -> Any:
    """``sync``: other people not vaccinated yet, 50 a request."""
    made = _made(target)
    return _prepared(made, VAXPORT_BENCH_PEOPLE=made["sync_people"], VAXPORT_BENCH_BATCH="50")


def prepare_appointments(target: Any) -> Any:
    """``record_dose-appt``: people booked today, each dose completing their appointment
    (the file's lines are ``person,appointment``)."""
    made = _made(target)
    return _prepared(made, VAXPORT_BENCH_PEOPLE=made["appointment_people"])


def prepare_aefi(target: Any) -> Any:
    """``aefi``: recorded doses, one reported on a request."""
    made = _made(target)
    return _prepared(made, VAXPORT_BENCH_DOSES=made["doses"])


# --- run as a program in the server's environment: the centre, lot, people and doses ---


async def _fill(args: argparse.Namespace) -> None:
    from vaxport import wiring
    from vaxport.core.cache import cache_from_url
    from vaxport.core.db import database_from_settings
    from vaxport.settings import get_settings
    from vaxport.tenancy.service import get_tenant_or_404

    wiring.install(wiring.build())
    settings = get_settings()
    db = database_from_settings(settings)
    cache = cache_from_url(settings.redis_url)
    out: Path = args.out
    made: dict[str, str] = {}
    try:
        tenant = await get_tenant_or_404(db=db, cache=cache, code=TENANT)
        centre = await rows.centre(db, cache, tenant)
        lot_id = await rows.lot(db, tenant.id, LOT)
        made["centre"] = str(centre)
        for name, count in (("people", args.people), ("sync_people", args.sync_people)):
            ids = await rows.people(
                db, tenant.id, count, name="Dose", facility=centre, created_via="walk_in"
            )
            made[name] = _write_ids(out / f"{name}.txt", ids)
        booked = await rows.people(
            db, tenant.id, args.appointment_people, name="Booked", facility=centre
        )
        seen = await rows.appointments(db, tenant.id, centre, booked)
        lines = [f"{p},{a}" for p, a in zip(booked, seen, strict=True)]
        made["appointment_people"] = _write_ids(out / "appointment_people.txt", lines)
        given = await rows.people(db, tenant.id, args.aefi_doses, name="Aefi", facility=centre)
        doses = await rows.doses(db, tenant.id, given, lot_id=lot_id, centre=centre)
        made["doses"] = _write_ids(out / "doses.txt", doses)
        (out / "made.json").write_text(json.dumps(made))
    finally:
        await cache.close()
        await db.dispose()


def _write_ids(path: Path, ids: list[Any]) -> str:
    path.write_text("\n".join(str(i) for i in ids) + "\n")
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.doses")
    sub = parser.add_subparsers(dest="command", required=True)
    fill = sub.add_parser("fill", help="write a centre, a lot, people and doses")
    fill.add_argument("--people", type=int, default=PEOPLE)
    fill.add_argument("--sync-people", type=int, default=SYNC_PEOPLE)
    fill.add_argument("--aefi-doses", type=int, default=AEFI_DOSES)
    fill.add_argument("--appointment-people", type=int, default=APPOINTMENT_PEOPLE)
    fill.add_argument("--out", type=Path, required=True)
    asyncio.run(_fill(parser.parse_args()))


if __name__ == "__main__":
    main()
