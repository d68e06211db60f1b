"""From measured runs to ratios, a table and the JSON result (pure functions).

A run's absolute numbers depend on the machine and on whoever else uses it; a ratio
to a ceiling measured just before and just after on the same server does not (much).
Every scenario is divided by the mean of its two neighbouring ceilings of the same
method; the production stack is divided by the bare Starlette app the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import fmean
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from bench.wrk import WrkResult

SCHEMA_VERSION = 1
RunKind = Literal["stack", "bare", "scenario"]


@dataclass(frozen=True)
class Run:
    """One measured wrk run and the CPU its server spent meanwhile."""

    kind: RunKind  # stack: production no-op (the ceiling); bare: bare Starlette no-op
    name: str
    method: str  # for ceilings and bare runs: the no-op's method
    path: str
    result: WrkResult
    cpu_s: float
    round_trips: float | None = None  # per request, as the server counted them (PostgreSQL)
    statements: float | None = None  # per request; several may share a round trip
    without_db: float | None = None  # share of requests that made no round trip (cache hits)

    @property
    def cpu_s_per_1k(self) -> float | None:
        if self.result.requests == 0:
            return None
        return self.cpu_s / self.result.requests * 1000

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        return {
            "kind": self.kind,
            "name": self.name,
            "method": self.method,
            "path": self.path,
            "requests": r.requests,
            "duration_s": round(r.duration_s, 3),
            "rps": round(r.rps, 1),
            "p50_ms": round(r.p50_ms, 3),
            "p90_ms": round(r.p90_ms, 3),
            "p99_ms": round(r.p99_ms, 3),
            "max_ms": round(r.max_ms, 3),
            "non_2xx": r.non_2xx,
            "socket_errors": {
                "connect": r.connect_errors,
                "read": r.read_errors,
                "write": r.write_errors,
                "timeout": r.timeouts,
            },
            "cpu_s": round(self.cpu_s, 3),
            "cpu_s_per_1k": _round(self.cpu_s_per_1k, 4),
            "round_trips_per_request": _round(self.round_trips, 2),
            "statements_per_request": _round(self.statements, 2),
            "share_without_round_trips": _round(self.without_db, 4),
            "records": r.records,
        }


@dataclass(frozen=True)
class Outcome:
    """What became of one selected scenario: measured (``run``), or why not."""

    name: str
    method: str
    path: str
    ceiling_method: str
    status: Literal["ok", "unavailable", "failed"]
    error: str | None = None
    run: int | None = None  # index into the runs


def neighbours(runs: list[Run], index: int, *, kind: RunKind, method: str) -> list[Run]:
    """The nearest run of ``kind``/``method`` before ``index`` and the nearest after."""
    found: list[Run] = []
    for step in (range(index - 1, -1, -1), range(index + 1, len(runs))):
        for i in step:
            if runs[i].kind == kind and runs[i].method == method:
                found.append(runs[i])
                break
    return found


def ratio(value: float | None, reference: float | None) -> float | None:
    """``value / reference``, or None when either is missing or the reference is zero."""
    if value is None or not reference:
        return None
    return value / reference


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return fmean(present) if present else None


def stack_vs_bare(runs: list[Run]) -> dict[str, dict[str, Any]]:
    """Per method: the production no-op against bare Starlette on either side of it."""
    out: dict[str, dict[str, Any]] = {}
    for i, run in enumerate(runs):
        if run.kind != "bare":
            continue
        stack = neighbours(runs, i, kind="stack", method=run.method)
        stack_rps = _mean([s.result.rps for s in stack])
        stack_cpu = _mean([s.cpu_s_per_1k for s in stack])
        out[run.method] = {
            "stack_rps": _round(stack_rps, 1),
            "bare_rps": round(run.result.rps, 1),
            "ratio": _round(ratio(stack_rps, run.result.rps), 3),
            "stack_cpu_s_per_1k": _round(stack_cpu, 4),
            "bare_cpu_s_per_1k": _round(run.cpu_s_per_1k, 4),
            # How many times the CPU of bare Starlette one request costs in our stack.
            "cpu_per_request_ratio": _round(ratio(stack_cpu, run.cpu_s_per_1k), 3),
        }
    return out


def scenario_summary(runs: list[Run], outcome: Outcome) -> dict[str, Any]:
    """One scenario's line of the report: its numbers and its ratios to the ceiling."""
    base: dict[str, Any] = {
        "name": outcome.name,
        "method": outcome.method,
        "path": outcome.path,
        "status": outcome.status,
        "error": outcome.error,
    }
    if outcome.run is None:
        return base
    run = runs[outcome.run]
    ceilings = neighbours(runs, outcome.run, kind="stack", method=outcome.ceiling_method)
    ceiling_rps = _mean([c.result.rps for c in ceilings])
    ceiling_cpu = _mean([c.cpu_s_per_1k for c in ceilings])
    r = run.result
    return (
        base
        | _per_record(run)
        | {
            "rps": round(r.rps, 1),
            "p50_ms": round(r.p50_ms, 3),
            "p99_ms": round(r.p99_ms, 3),
            "cpu_s_per_1k": _round(run.cpu_s_per_1k, 4),
            "non_2xx": r.non_2xx,
            "socket_errors": r.socket_errors,
            "ceiling_method": outcome.ceiling_method,
            "ceiling_rps": _round(ceiling_rps, 1),
            "ratio": _round(ratio(r.rps, ceiling_rps), 3),
            "cpu_vs_ceiling": _round(ratio(run.cpu_s_per_1k, ceiling_cpu), 3),
            "round_trips_per_request": _round(run.round_trips, 2),
            "statements_per_request": _round(run.statements, 2),
            "share_without_round_trips": _round(run.without_db, 4),
        }
    )


def compare_pairs(
    scenarios: list[dict[str, Any]], pairs: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    """Scenario against scenario, each through its own ceiling ratio (drift cancels out)."""
    ok = {(s["name"], s["method"]): s for s in scenarios if s["status"] == "ok"}
    out = []
    for name, versus in pairs:
        for (n, method), a in ok.items():
            b = ok.get((versus, method))
            if n != name or b is None:
                continue
            out.append(
                {
                    "scenario": name,
                    "versus": versus,
                    "method": method,
                    "ratio": _round(ratio(a["ratio"], b["ratio"]), 3),
                    "cpu_per_request_ratio": _round(ratio(a["cpu_s_per_1k"], b["cpu_s_per_1k"]), 3),
                }
            )
    return out


def build(
    *,
    runs: list[Run],
    outcomes: list[Outcome],
    meta: dict[str, Any],
    pairs: list[tuple[str, str]] | None = None,
    pgbench: list[dict[str, Any]] | None = None,
    profiles: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The JSON document of one bench run."""
    scenarios = [scenario_summary(runs, o) for o in outcomes]
    return {
        "schema": SCHEMA_VERSION,
        **meta,
        "stack_vs_bare": stack_vs_bare(runs),
        "scenarios": scenarios,
        "pairs": compare_pairs(scenarios, pairs or []),
        "pgbench": versus_pgbench(scenarios, pgbench or []),
        "profiles": profiles or [],
        "runs": [run.to_dict() for run in runs],
    }


def versus_pgbench(
    scenarios: list[dict[str, Any]], results: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each pgbench result with its scenario's req/s divided by pgbench's transactions/s."""
    rps = {(s["name"], s["method"]): s.get("rps") for s in scenarios if s["status"] == "ok"}
    out = []
    for r in results:
        scenario_rps = rps.get((r["scenario"], r["method"]))
        out.append(
            r
            | {"scenario_rps": scenario_rps, "ratio": _round(ratio(scenario_rps, r.get("tps")), 3)}
        )
    return out


def redact_url(url: str) -> str:
    """``url`` without its password (for the JSON and the table)."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _per_record(run: Run) -> dict[str, Any]:
    """A batch scenario's numbers per record its answers accepted (its script counts them)."""
    r = run.result
    if r.records is None:
        return {}
    per = r.records / r.requests if r.requests else None
    return {
        "records": r.records,
        "records_per_request": _round(per, 2),
        "records_per_s": _round(r.records / r.duration_s if r.duration_s > 0 else None, 1),
        "cpu_ms_per_record": _round(run.cpu_s / r.records * 1000 if r.records else None, 3),
        "round_trips_per_record": _round(
            run.round_trips / per if run.round_trips is not None and per else None, 3
        ),
    }


def table(report: dict[str, Any]) -> str:
    """The human-readable summary of :func:`build`'s document."""
    cfg = report["config"]
    lines = [
        f"vaxport bench {report['started_at']}  workers={cfg['workers']} "
        f"connections={cfg['connections']} threads={cfg['threads']} "
        f"duration={cfg['duration_s']:g}s warmup={cfg['warmup_s']:g}s  "
        f"database={cfg['database']} cache={cfg['cache']}",
        "",
        f"{'run':<22}{'method':<8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'CPU s/1k':>10}{'non-2xx':>9}{'ratio':>8}{'RT/req':>8}{'no-DB':>7}",
    ]
    ratios = {(s["name"], s["method"]): s for s in report["scenarios"] if s["status"] == "ok"}
    labels = {"stack": "ceiling (stack no-op)", "bare": "bare Starlette no-op"}
    for run in report["runs"]:
        summary = ratios.get((run["name"], run["method"])) if run["kind"] == "scenario" else None
        lines.append(
            f"{labels.get(run['kind'], run['name']):<22}{run['method']:<8}"
            f"{run['rps']:>10.0f}{run['p50_ms']:>9.2f}{run['p99_ms']:>9.2f}"
            f"{_fmt(run['cpu_s_per_1k'], '.3f'):>10}{run['non_2xx']:>9}"
            f"{_fmt(summary and summary['ratio'], '.2f'):>8}"
            f"{_fmt(run.get('round_trips_per_request'), '.1f'):>8}"
            f"{_fmt(run.get('share_without_round_trips'), '.0%'):>7}"
        )
    lines.append("")
    lines.append("ratio: scenario req/s / mean of the ceilings measured just before and after it")
    lines.append(
        "RT/req: database round trips per request, counted by the server (PostgreSQL; - on "
        "SQLite or without database work); no-DB: share of its requests that made none"
    )
    for method, cmp in report["stack_vs_bare"].items():
        lines.append(
            f"production stack / bare Starlette, {method}: {_fmt(cmp['ratio'], '.2f')} "
            f"of the throughput; {_fmt(cmp['cpu_per_request_ratio'], '.2f')}x the CPU "
            f"per request"
        )
    for pair in report.get("pairs", []):
        lines.append(
            f"{pair['scenario']} / {pair['versus']} {pair['method']}: "
            f"{_fmt(pair['ratio'], '.2f')} of the "
            f"throughput; {_fmt(pair['cpu_per_request_ratio'], '.2f')}x the CPU per request"
        )
    for s in report["scenarios"]:
        if s.get("records") is not None:
            lines.append(
                f"{s['name']} {s['method']}: {_fmt(s['records_per_request'], '.1f')} records "
                f"accepted a request, {_fmt(s['records_per_s'], '.0f')} records/s, "
                f"{_fmt(s['cpu_ms_per_record'], '.3f')} CPU ms and "
                f"{_fmt(s['round_trips_per_record'], '.3f')} round trips a record"
            )
    lines += _pgbench_lines(report.get("pgbench", []))
    lines += _profile_lines(report.get("profiles", []))
    for s in report["scenarios"]:
        if s["status"] != "ok":
            lines.append(f"{s['name']} {s['method']}: {s['status']}: {s['error']}")
        elif s["non_2xx"] or s["socket_errors"]:
            lines.append(
                f"{s['name']} {s['method']}: WARNING {s['non_2xx']} non-2xx answers, "
                f"{s['socket_errors']} socket errors"
            )
    return "\n".join(lines)


def _pgbench_lines(results: list[dict[str, Any]]) -> list[str]:
    lines = []
    for r in results:
        head = f"{r['scenario']} {r['method']} / pgbench of its statements"
        if r.get("error"):
            lines.append(f"{head}: not run: {r['error']}")
            continue
        lines.append(
            f"{head}: {_fmt(r['ratio'], '.3f')} ({_fmt(r['scenario_rps'], '.0f')} req/s vs "
            f"{r['tps']:.0f} transactions/s; {r['statements']} statements in "
            f"{r['round_trips']} round trips, {r['clients']} clients; {r['script']})"
        )
    return lines


# Entry frames (runpy, Typer, uvicorn's run, the asyncio loop) are on nearly every
# stack and tell nothing: the printed top leaves them out; the JSON keeps them.
_ENTRY = (
    "<frozen runpy>", "typer/", "click/", "uvicorn/main.py", "uvicorn/server.py",
    "uvicorn/_compat.py", "asyncio/runners.py", "asyncio/base_events.py",
    "asyncio/events.py", "vaxport/cli.py", "vaxport/__main__.py",
)  # fmt: skip


def _profile_lines(profiles: list[dict[str, Any]], n: int = 12) -> list[str]:
    lines = []
    for p in profiles:
        lines.append("")
        if p.get("error"):
            lines.append(f"profile {p['scenario']} {p['method']}: not recorded: {p['error']}")
            continue
        lines.append(
            f"profile {p['scenario']} {p['method']}: {p['samples']} samples, "
            f"{_fmt(p['cpu_ms_per_request'], '.3f')} CPU ms/request; {p['path']}"
        )
        lines.append(f"  {'cum %':>6} {'cum ms/req':>10} {'self %':>7}  function")
        rows = [r for r in p["cumulative"] if not any(e in r["function"] for e in _ENTRY)][:n]
        total = p["samples"] or 1
        for r in rows:
            lines.append(
                f"  {r['share'] * 100:>6.1f} {_fmt(r['ms_per_request'], '.3f'):>10} "
                f"{r['self_samples'] / total * 100:>7.1f}  {r['function']}"
            )
        lines.append(f"  {'self %':>6} {'self ms/req':>10}  function (where the CPU itself went)")
        for r in p["self"][: n // 2]:
            ms = _fmt(r["ms_per_request"], ".3f")
            lines.append(f"  {r['share'] * 100:>6.1f} {ms:>10}  {r['function']}")
    return lines
