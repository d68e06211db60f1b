"""A batch past every chunk boundary is applied in one request, all accepted; a batch of
the most records a request may carry fits under its byte limit.

The batch applies walk-ins ``WALK_IN_CHUNK`` to a statement batch and doses
``DOSE_CHUNK`` to a transaction: one person past the walk-in chunk crosses both (two
walk-in batches, five dose transactions, the last of one). ``SYNC_TEST_PEOPLE=2500``
applies the full 5,000 records (about ten times the time).
"""

from __future__ import annotations

import os
import time
import uuid

import httpx
import orjson

from tests.immunization.support import doses
from tests.immunization.sync_support import dose, upload, walk_in
from tests.registration.conftest import Person
from vaxport.core.db import Database
from vaxport.immunization.sync.batch import WALK_IN_CHUNK
from vaxport.immunization.sync.schemas import MAX_RECORDS
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

PEOPLE = int(os.environ.get("SYNC_TEST_PEOPLE", str(WALK_IN_CHUNK + 1)))


def _walk_ins_with_doses(people: int) -> list[dict[str, object]]:
    ids = [uuid.uuid4() for _ in range(people)]
    records = [walk_in(i, given_name=f"Person{n}") for n, i in enumerate(ids)]
    return records + [dose(walk_in_id=i) for i in ids]


async def test_walk_ins_and_doses_past_every_chunk_are_applied_in_one_request(
    client: httpx.AsyncClient,
    clean_db: Database,
    tenant: TenantInfo,
    vaccinator: Person,
    lot: uuid.UUID,
) -> None:
    records = _walk_ins_with_doses(PEOPLE)

    started = time.perf_counter()
    out = await upload(client, tenant, vaccinator.headers, records)
    took = time.perf_counter() - started

    assert out["counts"] == {"accepted": 2 * PEOPLE, "duplicate": 0, "conflict": 0, "rejected": 0}
    assert len(await doses(clean_db, tenant)) == PEOPLE
    print(f"{len(records):,} records in {took:.1f} s")


def test_the_most_records_a_batch_may_carry_fit_under_its_byte_limit(
    settings: Settings,
) -> None:
    body = {"device_id": "tablet-1", "records": _walk_ins_with_doses(MAX_RECORDS // 2)}

    assert len(body["records"]) == MAX_RECORDS
    assert len(orjson.dumps(body)) < settings.sync_max_bytes
