"""Helpers of the idempotency walks: keyed calls, the secrets an answer carries, scans.

``scan_database`` reads every table the live database has (the catalog, not a list: a
table added later is scanned too), every column, raw values; on SQLite also the bytes
of the database file and its write-ahead log, where deleted rows may linger.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.security.routes import Call, send
from tests.security.world import PERSON, World
from vaxport.core.db import Database

# Answer fields that are one-time secrets: none may rest anywhere in the database.
SECRET_FIELDS = frozenset(
    {
        "access_token",
        "activation_url",
        "claim_code",
        "otpauth_uri",
        "qr_data_uri",
        "recovery_codes",
        "refresh_token",
        "secret",
        "ticket",
    }
)


def canaries() -> dict[str, str]:
    """Every spelling of the walk's personal values (the clean-logs needles, dates too)."""
    y, m, d = PERSON.birth_date.split("-")
    return {
        **PERSON.needles(),
        "birth date": PERSON.birth_date,
        "birth date (day first)": f"{d}/{m}/{y}",
        "birth date (digits)": f"{y}{m}{d}",
    }


def secrets_in(doc: Any) -> set[str]:
    """The values of :data:`SECRET_FIELDS` anywhere in a JSON answer."""
    found: set[str] = set()
    if isinstance(doc, dict):
        for name, value in doc.items():
            if name in SECRET_FIELDS:
                values = value if isinstance(value, list) else [value]
                found |= {v for v in values if isinstance(v, str) and len(v) >= 6}
            else:
                found |= secrets_in(value)
    elif isinstance(doc, list):
        for item in doc:
            found |= secrets_in(item)
    return found


def json_of(resp: httpx.Response) -> Any:
    """The JSON body of an answer (``None`` when it is not JSON)."""
    if not resp.headers.get("content-type", "").startswith("application/json"):
        return None
    return resp.json()


async def send_keyed(w: World, method: str, path: str, call: Call, key: str) -> httpx.Response:
    """Send ``call`` with ``Idempotency-Key: key``."""
    keyed = dataclasses.replace(call, headers={**call.headers, "Idempotency-Key": key})
    resp: httpx.Response = await send(w, method, path, keyed)
    return resp


def _hits(blob: bytes, needles: dict[str, str]) -> list[str]:
    low = blob.lower()
    return [label for label, value in needles.items() if value.lower().encode() in low]


async def scan_database(
    db: Database, needles: dict[str, str], *, public: Mapping[tuple[str, str], str] = {}
) -> list[str]:
    """``table.column: label`` for every needle found in any stored value (as owner).

    ``public``: columns that hold such values by design (a reason each); their hits are
    not reported, and their needles are not looked for in the raw file bytes.
    """
    found: list[str] = []
    explained: set[str] = set()
    async with db.engine.connect() as conn:
        if db.is_postgres:
            listed = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        else:
            listed = "SELECT name FROM sqlite_master WHERE type = 'table'"
        tables = [r[0] for r in await conn.execute(text(listed))]
        for table in tables:
            result = await conn.execute(text(f'SELECT * FROM "{table}"'))
            columns = list(result.keys())
            mine: set[str] = set()  # needles found in this table's public columns
            for row in result:
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    raw = bytes(value) if isinstance(value, bytes | memoryview) else str(value)
                    blob = raw if isinstance(raw, bytes) else raw.encode()
                    labels = _hits(blob, needles)
                    if (table, column) in public:
                        mine.update(labels)
                    else:
                        found += [f"{table}.{column}: {label}" for label in labels]
            if db.is_postgres:  # the whole row as PostgreSQL prints it (what a dump shows)
                rows = await conn.execute(text(f'SELECT t::text FROM "{table}" t'))
                for (line,) in rows:
                    hits = set(_hits(line.encode(), needles)) - mine
                    found += [f"{table} (row text): {x}" for x in hits]
            explained |= mine
    if db.is_sqlite:
        path = Path(make_url(db.url).database or "")
        rest = {k: v for k, v in needles.items() if k not in explained}
        for part in (path, path.with_name(path.name + "-wal")):
            if part.exists():
                found += [f"{part.name} (file bytes): {x}" for x in _hits(part.read_bytes(), rest)]
    return sorted(set(found))
