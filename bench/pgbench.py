"""The same statements without Python: a pgbench script from a captured request.

The server captures a few requests' statements as it executed them (bench mode,
``core/roundtrips.py``): each exchange with PostgreSQL and its parameters as typed SQL
literals. The script replays one of them in order, one pgbench command per statement, so
pgbench makes the same round trips (an ``executemany`` becomes a pipeline,
``\\startpipeline`` ... ``\\endpipeline``, one exchange as in the app). A parameter
whose value differs between two requests that ran the same statements, and whose type
can hold anything (ids, bytes such as ciphertexts and blind indexes, text such as a
reference or an Idempotency-Key), is derived per transaction from a random ``:seed``,
so unique indexes hold; equal values (tenant, actor) and other types (timestamps,
dates, JSON) stay the captured literals. Prepares are left out: pgbench runs with
``-M prepared`` and prepares each command once per connection, as the app's statement
cache does.

Deriving the fresh values costs PostgreSQL an ``md5`` or two per value that the app's
transaction does not: a slightly slower pgbench, i.e. a ratio slightly in the app's favour.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

_CANDIDATES = ("/usr/lib/postgresql/15/bin/pgbench", "/usr/lib/postgresql/16/bin/pgbench")
_PARAM = re.compile(r"\$(\d+)")
_TPS = re.compile(r"^tps = ([0-9.]+) \(without initial connection time\)", re.MULTILINE)


class PgbenchUnavailable(Exception):  # noqa: N818 - a state, reported with its reason
    """pgbench cannot run here or for this scenario; the message says why."""


@dataclass(frozen=True)
class PgbenchResult:
    tps: float
    transactions: int
    clients: int
    statements: int
    round_trips: int
    script: Path


def find() -> str:
    """The pgbench binary (PATH first, then Debian's PostgreSQL directories)."""
    found = shutil.which("pgbench") or next((c for c in _CANDIDATES if Path(c).is_file()), None)
    if found is None:
        raise PgbenchUnavailable("pgbench not found (apt-get install postgresql-client)")
    return found


_VARIABLE_TYPES = {"uuid", "bytea", "text", "varchar", "bpchar"}


def _fresh(param: dict[str, Any], ident: int) -> str:
    """An expression giving a new value per transaction, the same for the same ``ident``."""
    salt = f"(:seed::text || '-{ident}')"
    kind = param["type"]
    if kind == "uuid":
        return f"md5{salt}::uuid"
    size = int(param["size"])
    if kind == "bytea":
        return f"substr(decode(repeat(md5{salt}, {-(-size // 16)}), 'hex'), 1, {size})"
    return f"left(repeat(md5{salt}, {-(-size // 32)}), {size})::{kind}"


def _replayed(capture: dict[str, Any]) -> list[dict[str, Any]]:
    """The exchanges pgbench replays: all but prepares (a statement-cache miss)."""
    return [e for e in capture["exchanges"] if e["op"] != "prepare"]


def pair(captures: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Two captured requests that executed the same statements (the commonest sequence):
    a request on a fresh pooled connection or after a pause executes a few more."""
    by_shape: dict[tuple[tuple[str, str], ...], list[dict[str, Any]]] = {}
    for c in captures:
        by_shape.setdefault(tuple((e["op"], e["sql"]) for e in _replayed(c)), []).append(c)
    same = max(by_shape.values(), key=len)
    return same[0], same[1] if len(same) > 1 else None


def _mark_fresh(first: list[dict[str, Any]], second: list[dict[str, Any]] | None) -> None:
    """Mark the parameters of ``first`` whose value differs in ``second`` (same shape)."""

    def shape(exchanges: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
        return [(e["op"], e["sql"], len(e["rows"])) for e in exchanges]

    if second is None or shape(first) != shape(second):
        raise PgbenchUnavailable(
            "the two captured requests executed different statements; cannot tell "
            "per-request values from constants"
        )
    ids: dict[str, int] = {}
    for a, b in zip(first, second, strict=True):
        for row_a, row_b in zip(a["rows"], b["rows"], strict=True):
            for pa, pb in zip(row_a, row_b, strict=False):
                if pa["literal"] != pb["literal"] and pa["type"] in _VARIABLE_TYPES:
                    pa["fresh"] = ids.setdefault(pa["literal"], len(ids))
                    pa["size"] = _literal_size(pa["literal"])


def _literal_size(text: str) -> int:
    """Bytes of a bytea literal, characters of a text one (from its quoted body)."""
    body = text[text.index("'") + 1 : text.rindex("'")]
    if body.startswith(("\\\\x", "\\x")):
        return len(body.split("x", 1)[1]) // 2
    return len(body.replace("''", "'").replace("\\x3a", ":"))


def _statement(sql: str, row: list[dict[str, Any]]) -> str:
    def value(match: re.Match[str]) -> str:
        param = row[int(match.group(1)) - 1]
        fresh = param.get("fresh")
        return "(" + (param["literal"] if fresh is None else _fresh(param, fresh)) + ")"

    text = " ".join(_PARAM.sub(value, sql).split())
    return text if text.endswith(";") else text + ";"


def script(captures: list[dict[str, Any]]) -> tuple[str, int]:
    """The pgbench script replaying the first captured request, and its round trips."""
    capture, twin = pair(captures)
    exchanges = _replayed(capture)
    _mark_fresh(exchanges, _replayed(twin) if twin is not None else None)
    lines = [
        f"-- {capture['method']} {capture['path']}: the statements one request executed",
        "-- (captured by vaxport bench; per-request values derived from :seed)",
        r"\set seed random(1, 9000000000000000000)",
    ]
    round_trips = 0
    for exchange in exchanges:
        op, sql, rows = exchange["op"], exchange["sql"], exchange["rows"]
        if op not in ("query", "execute", "execute_many"):
            raise PgbenchUnavailable(f"cannot replay a {op!r} exchange with pgbench")
        round_trips += 1
        if op == "query":
            lines.append(_statement(sql, []))
        elif op == "execute":
            lines.append(_statement(sql, rows[0]))
        else:
            lines.append(r"\startpipeline")
            lines += [_statement(sql, row) for row in rows]
            lines.append(r"\endpipeline")
    return "\n".join(lines) + "\n", round_trips


def run(
    url: str,
    captures: list[dict[str, Any]],
    *,
    path: Path,
    clients: int,
    threads: int,
    duration_s: float,
    warmup_s: float = 0.0,
) -> PgbenchResult:
    """Write the script to ``path`` and run it at ``clients``; pgbench's tps."""
    binary = find()
    text, round_trips = script(captures)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    u = make_url(url)
    env = {**os.environ, "PGPASSWORD": u.password or "", "PGAPPNAME": "vaxport-bench"}
    base = [binary, "-n", "-M", "prepared", "-f", str(path), "-c", str(clients)]
    base += ["-j", str(max(1, min(threads, clients))), "-h", u.host or "127.0.0.1"]
    base += ["-p", str(u.port or 5432), "-U", u.username or "postgres", u.database or "postgres"]
    if warmup_s >= 1:
        _pgbench([*base, "-T", str(round(warmup_s))], env)
    out = _pgbench([*base, "-T", str(max(1, round(duration_s)))], env)
    tps = _TPS.search(out)
    done = re.search(r"number of transactions actually processed: (\d+)", out)
    if tps is None or done is None:
        raise PgbenchUnavailable(f"pgbench printed no tps:\n{out[-1500:]}")
    statements = sum(len(e["rows"]) or 1 for e in _replayed(pair(captures)[0]))
    return PgbenchResult(
        float(tps.group(1)), int(done.group(1)), clients, statements, round_trips, path
    )


def _pgbench(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900, check=False)
    out = done.stdout + done.stderr
    if done.returncode != 0 or "aborted" in out:
        raise PgbenchUnavailable(f"pgbench failed ({done.returncode}):\n{out[-1500:]}")
    return out
