"""Migration 0013 drops the plain answers the idempotency store kept, and gains tenant_id."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import inspect, text

from tests.support.parts import METADATA
from vaxport.core import migrate
from vaxport.core.db import Database


async def _columns(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return await conn.run_sync(
            lambda c: {col["name"] for col in inspect(c).get_columns("idempotency_keys")}
        )


async def test_0013_deletes_plain_answers_and_seals_from_then_on(empty_db: Database) -> None:
    await migrate.upgrade(empty_db, "0011_account_recoveries", metadata=METADATA)
    now = dt.datetime.now(dt.UTC)
    row_id: object = uuid.uuid4() if empty_db.is_postgres else uuid.uuid4().hex
    async with empty_db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO idempotency_keys (id, scope, key, fingerprint, state, "
                "response_status, response_body, created_at, expires_at) VALUES "
                "(:id, 's', 'k', 'f', 'done', 201, :body, :now, :now)"
            ),
            {"id": row_id, "body": b'{"given_name": "Ada"}', "now": now},
        )
    await migrate.upgrade(empty_db, "head", metadata=METADATA)
    columns = await _columns(empty_db)
    assert {"tenant_id", "subject_id", "withheld", "answer_enc", "person_answer_enc"} <= columns
    assert "response_body" not in columns
    async with empty_db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM idempotency_keys"))).scalar() == 0

    await migrate.downgrade(empty_db, "0011_account_recoveries")
    assert "response_body" in await _columns(empty_db)
    assert "tenant_id" not in await _columns(empty_db)
