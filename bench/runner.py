"""``vaxport bench``: start the servers, prepare the scenarios, drive wrk, report.

Order of the measured runs, per ceiling method (GET, then POST)::

    ceiling, bare, ceiling, scenario 1, ceiling, scenario 2, ceiling, ...

so that every scenario, and bare Starlette, sits between two ceilings measured
moments apart. Each measured run is preceded by a warm-up run of the same request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import pgbench, report, roundtrips, wrk
from bench import profile as profiler
from bench.procs import Server, ServerStartError, free_port
from bench.scenarios import NOOP_BODY, Prepared, Scenario, ScenarioUnavailable, Target, select

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "bench" / "results"
NOOP_PATH = "/bench/noop"


@dataclass(frozen=True)
class Options:
    """The command line of ``vaxport bench``."""

    scenarios: list[str] | None = None
    duration_s: float = 10.0
    warmup_s: float = 2.0
    connections: int = 64
    threads: int = 1
    workers: int = 1
    database_url: str = ""
    redis_url: str = ""
    as_json: bool = False
    output: Path | None = None
    profile: bool = False  # py-spy the server during each scenario's measured run
    prefill: int = 1000  # people registered before measuring (register's setup)
    pgbench: bool = True  # replay a captured request's statements with pgbench (PostgreSQL)

    @property
    def on_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")


@dataclass(frozen=True)
class Step:
    """One measured run to make."""

    kind: report.RunKind
    method: str
    scenario: Scenario | None = None


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def plan(scenarios: list[Scenario]) -> list[Step]:
    """Ceiling, bare, ceiling, then each scenario followed by a ceiling; per method."""
    steps: list[Step] = []
    for method in ("GET", "POST"):
        steps += [Step("stack", method), Step("bare", method), Step("stack", method)]
        for s in scenarios:
            if s.ceiling_method == method:
                steps += [Step("scenario", method, s), Step("stack", method)]
    return steps


def _python_path() -> str:
    """PYTHONPATH for the children: this vaxport and this bench package, then the rest."""
    import vaxport

    paths = [str(Path(vaxport.__file__).resolve().parent.parent), str(REPO_ROOT)]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    return os.pathsep.join(paths)


def server_env(opts: Options, data_dir: Path) -> dict[str, str]:
    """The production server's environment: bench mode, a private data dir, given URLs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAXPORT_")}
    keep = ("VAXPORT_LOG_LEVEL", "VAXPORT_LOG_JSON", "VAXPORT_DATABASE_POOL_SIZE")
    env.update({k: os.environ[k] for k in keep if k in os.environ})
    env.update(
        {
            "PYTHONPATH": _python_path(),
            "VAXPORT_ENV": "development",  # production refuses bench mode, as it should
            "VAXPORT_BENCH_MODE": "true",
            "VAXPORT_DATA_DIR": str(data_dir),
            "VAXPORT_DATABASE_URL": opts.database_url,
            "VAXPORT_REDIS_URL": opts.redis_url,
            "VAXPORT_COUNTRIES_DIR": str(REPO_ROOT / "countries"),
            # Certificate verification has no tenant whose configuration could lift its
            # per-address limit (as the directory and search tenants do): wrk is one
            # address standing for many verifiers.
            "VAXPORT_RATE_LIMIT_VERIFICATION_IP": "unlimited",
        }
    )
    if opts.database_url:
        # A database given by URL outlives the run, and so do the keys wrapped in it: the
        # next run against it must hold the same key-encryption keys, or every request
        # touching a person answers 500 (the key file does not hold their KEK).
        env["VAXPORT_KEY_FILE"] = str(_key_file_for(opts.database_url))
    return env


def _key_file_for(database_url: str) -> Path:
    """The key file kept for runs against ``database_url`` (under the ignored results)."""
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    folder = RESULTS_DIR / "keys"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder / f"{digest}.json"


def _servers(opts: Options, env: dict[str, str], tmp: Path) -> tuple[Server, Server]:
    py = sys.executable
    workers = str(opts.workers)
    stack = Server(
        name="vaxport serve",
        argv=[py, "-m", "vaxport", "serve", "--host", "127.0.0.1", "--workers", workers],
        env=env,
        cwd=REPO_ROOT,
        port=free_port(),
        log_path=tmp / "serve.log",
        ready_path="/readyz",
    )
    stack.argv += ["--port", str(stack.port)]
    bare = Server(
        name="bare Starlette",
        argv=[
            *(py, "-m", "uvicorn", "bench.bare_app:app", "--host", "127.0.0.1"),
            *("--workers", workers, "--log-level", "warning", "--no-access-log"),
            # The same flags as `vaxport serve` without trusted proxies.
            *("--no-server-header", "--no-proxy-headers"),
        ],
        env={**os.environ, "PYTHONPATH": _python_path()},
        cwd=REPO_ROOT,
        port=free_port(),
        log_path=tmp / "bare.log",
        ready_path=NOOP_PATH,
    )
    bare.argv += ["--port", str(bare.port)]
    return stack, bare


def _cli_runner(env: dict[str, str]) -> Any:
    def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vaxport", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )

    return run_cli


@dataclass(frozen=True)
class Request:
    """A request as wrk sends it (and as the probe sends it first)."""

    method: str
    path: str
    body: str | None = None
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    lua: str = "static.lua"
    env: tuple[tuple[str, str], ...] = ()
    connections: int | None = None  # the scenario's own cap

    def wrk_env(self) -> dict[str, str]:
        return {
            "VAXPORT_BENCH_METHOD": self.method,
            "VAXPORT_BENCH_BODY": self.body or "",
            "VAXPORT_BENCH_CONTENT_TYPE": self.content_type,
            "VAXPORT_BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in self.headers),
            **dict(self.env),
        }


def noop_request(method: str) -> Request:
    return Request(method, NOOP_PATH, NOOP_BODY if method == "POST" else None)


def prepare(scenario: Scenario, target: Target, cache: dict[Any, Prepared]) -> Request:
    """Run the scenario's setup (once per setup function) and probe its request."""
    prepared = Prepared()
    if scenario.setup is not None:
        if scenario.setup not in cache:
            cache[scenario.setup] = scenario.setup(target)
        prepared = cache[scenario.setup]
    try:
        path = scenario.path.format(**prepared.params)
    except KeyError as exc:
        raise ScenarioUnavailable(f"its setup gave no value for {exc} in {scenario.path}") from exc
    req = Request(
        method=scenario.method,
        path=path,
        body=prepared.body if prepared.body is not None else scenario.body,
        content_type=scenario.content_type,
        headers=tuple(prepared.headers.items()),
        lua=scenario.lua,
        env=tuple(prepared.env.items()),
        connections=scenario.connections,
    )
    if scenario.probe:
        probe(target.base_url, req, hint=scenario.missing_hint)
    return req


def probe(
    base_url: str, req: Request, *, hint: str = "", transport: httpx.BaseTransport | None = None
) -> None:
    """Send ``req`` once; anything but a 2xx makes the scenario unavailable."""
    headers = {"Accept": "application/json", **dict(req.headers)}
    if req.body is not None:
        headers["Content-Type"] = req.content_type
    with httpx.Client(base_url=base_url, timeout=30.0, transport=transport) as client:
        r = client.request(req.method, req.path, content=req.body, headers=headers)
    if 200 <= r.status_code < 300:
        return
    why = f"{req.method} {req.path} answered {r.status_code}"
    if r.status_code == 404 and hint:
        why += f": {hint}"
    else:
        why += f": {r.text[:300]}"
    raise ScenarioUnavailable(why)


def measure(
    opts: Options,
    wrk_path: str,
    server: Server,
    req: Request,
    *,
    warm: bool = True,
    recording: profiler.Recording | None = None,
) -> tuple[wrk.WrkResult, float]:
    """Warm up, then one measured run; returns wrk's result and the server's CPU seconds."""
    url = server.base_url + req.path
    common: dict[str, Any] = {
        "url": url,
        "script": req.lua,
        "connections": min(opts.connections, req.connections or opts.connections),
        "threads": opts.threads,
        "env": req.wrk_env(),
    }
    if warm and opts.warmup_s > 0:
        wrk.run(wrk_path, duration_s=opts.warmup_s, **common)
    if recording is not None:
        recording.start()
    before = server.cpu_seconds()
    try:
        result = wrk.run(wrk_path, duration_s=opts.duration_s, **common)
    finally:
        if recording is not None:
            recording.stop()
    return result, server.cpu_seconds() - before


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def run(opts: Options) -> int:
    """The whole bench; returns the exit status (1 if a scenario could not run)."""
    try:
        scenarios = select(opts.scenarios)
        wrk_path = wrk.ensure_wrk()
    except (ValueError, wrk.WrkMissingError) as exc:
        say(str(exc))
        return 2
    try:
        py_spy = profiler.find() if opts.profile else ""
    except profiler.ProfilerMissing as exc:
        say(str(exc))
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="vaxport-bench-"))
    env = server_env(opts, tmp / "data")
    stack, bare = _servers(opts, env, tmp)
    started_at = _now()
    path = opts.output or RESULTS_DIR / f"{started_at.replace(':', '').replace('+0000', 'Z')}.json"
    extras = Extras(artefacts=path.with_suffix(""), py_spy=py_spy)
    loadavg_start = list(os.getloadavg())
    try:
        for server in (stack, bare):
            say(f"starting {server.name} on {server.base_url} ({opts.workers} worker(s))")
            server.launch()
        for server in (stack, bare):
            server.wait_ready()
        target = Target(
            base_url=stack.base_url,
            repo_root=REPO_ROOT,
            run_cli=_cli_runner(env),
            prefill=opts.prefill,
            env=env,
        )
        requests, outcomes = _prepare_all(scenarios, target)
        if requests:
            _analyze(env)
        runnable = [s for s in scenarios if s in requests]
        runs: list[report.Run] = []
        steps = plan(runnable)
        for n, step in enumerate(steps, 1):
            runs.append(_measure_step(opts, wrk_path, step, stack, bare, requests, extras))
            r = runs[-1]
            rt = "" if r.round_trips is None else f"  {r.round_trips:.1f} round trips/req"
            say(
                f"[{n}/{len(steps)}] {r.kind:<8} {r.name:<14} {r.method:<5} "
                f"{r.result.rps:>9.0f} req/s  p99 {r.result.p99_ms:.1f} ms{rt}"
            )
        outcomes = _attach_runs(outcomes, runs)
    except (ServerStartError, wrk.WrkOutputError, ScenarioUnavailable) as exc:
        say(f"bench failed: {exc}")
        return 1
    finally:
        for server in (stack, bare):
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    meta = {
        "started_at": started_at,
        "finished_at": _now(),
        "host": {
            "cpus": os.cpu_count(),
            "loadavg_start": loadavg_start,
            "loadavg_end": list(os.getloadavg()),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "wrk": wrk.version(wrk_path),
        },
        "config": {
            "scenarios": sorted({s.name for s in scenarios}),
            "duration_s": opts.duration_s,
            "warmup_s": opts.warmup_s,
            "connections": opts.connections,
            "threads": opts.threads,
            "workers": opts.workers,
            "database": report.redact_url(opts.database_url) or "sqlite (temporary)",
            "cache": report.redact_url(opts.redis_url) or "in-process",
            "profile": opts.profile,
            "prefill": opts.prefill,
        },
    }
    pairs = [(s.name, s.versus) for s in scenarios if s.versus]
    doc = report.build(
        runs=runs,
        outcomes=outcomes,
        meta=meta,
        pairs=pairs,
        pgbench=extras.pgbench,
        profiles=extras.profiles,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    text = report.table(doc) + f"\n\nresults: {path}"
    if opts.as_json:
        say(text)
        print(json.dumps(doc, indent=2))
    else:
        print(text)
    return 0 if all(o.status == "ok" for o in outcomes) else 1


def _prepare_all(
    scenarios: list[Scenario], target: Target
) -> tuple[dict[Scenario, Request], list[report.Outcome]]:
    cache: dict[Any, Prepared] = {}
    requests: dict[Scenario, Request] = {}
    outcomes: list[report.Outcome] = []
    for s in scenarios:
        status: Any = "ok"
        error = None
        try:
            requests[s] = prepare(s, target, cache)
        except ScenarioUnavailable as exc:
            status, error = "unavailable", str(exc)
            say(f"{s.label}: unavailable: {exc}")
        except (httpx.HTTPError, OSError, subprocess.SubprocessError) as exc:
            status, error = "failed", f"{type(exc).__name__}: {exc}"
            say(f"{s.label}: setup failed: {error}")
        outcomes.append(report.Outcome(s.name, s.method, s.path, s.ceiling_method, status, error))
    return requests, outcomes


@dataclass
class Extras:
    """What a run collects beside the table: artefacts, pgbench results, profiles."""

    artefacts: Path  # bench/results/<ts>/, beside <ts>.json
    py_spy: str = ""
    pgbench: list[dict[str, Any]] = field(default_factory=list)
    profiles: list[dict[str, Any]] = field(default_factory=list)


def _analyze(env: dict[str, str]) -> None:
    """ANALYZE the server's database after the setups' prefills, so the planner sees
    the tables as they are (a never-analysed table can get a plan for an empty one)."""
    done = subprocess.run(
        [sys.executable, "-c", _ANALYZE],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    say("analyzed the tables" if done.returncode == 0 else f"ANALYZE failed: {done.stderr[-500:]}")


_ANALYZE = """
import asyncio
from sqlalchemy import text
from vaxport.core.db import database_from_settings

async def main():
    db = database_from_settings()
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    finally:
        await db.dispose()

asyncio.run(main())
"""


def _measure_scenario(
    opts: Options,
    wrk_path: str,
    scenario: Scenario,
    stack: Server,
    req: Request,
    extras: Extras,
) -> report.Run:
    """One scenario's measured run, with its round trips, and when asked its profile and
    the pgbench replay of its statements."""
    key = roundtrips.route_key(req.method, req.path)
    replay = opts.pgbench and scenario.pgbench and opts.on_postgres
    before = roundtrips.counts(stack.base_url, opts.workers) if opts.on_postgres else None
    if replay:
        roundtrips.arm_capture(stack.base_url, opts.workers, *key)
    stem = f"{scenario.name}-{scenario.method}"
    recording = None
    if opts.profile:
        out = extras.artefacts / f"{stem}.collapsed.txt"
        recording = profiler.Recording(extras.py_spy, stack.pid, out)
    result, cpu = measure(opts, wrk_path, stack, req, recording=recording)
    after = roundtrips.counts(stack.base_url, opts.workers) if opts.on_postgres else None
    per = roundtrips.per_request(before, after, key)
    run = report.Run(
        "scenario",
        scenario.name,
        req.method,
        req.path,
        result,
        cpu,
        round_trips=per[0] if per else None,
        statements=per[1] if per else None,
        without_db=per[2] if per else None,
    )
    if recording is not None:
        extras.profiles.append(_profile_summary(scenario, recording, run.cpu_s_per_1k))
    if opts.pgbench and scenario.pgbench:
        extras.pgbench.append(_replay(opts, scenario, stack, extras.artefacts / f"{stem}.pgbench"))
    return run


def _profile_summary(
    scenario: Scenario, recording: profiler.Recording, cpu_s_per_1k: float | None
) -> dict[str, Any]:
    head = {"scenario": scenario.name, "method": scenario.method, "path": str(recording.path)}
    if not recording.path.is_file():
        return head | {"error": f"py-spy wrote nothing: {recording.output[-300:]}"}
    return head | profiler.top(recording.path, cpu_ms_per_request=cpu_s_per_1k)


def _replay(opts: Options, scenario: Scenario, stack: Server, script: Path) -> dict[str, Any]:
    head: dict[str, Any] = {"scenario": scenario.name, "method": scenario.method}
    if not opts.on_postgres:
        return head | {
            "error": "pgbench needs PostgreSQL (--database-url postgresql+asyncpg://...)"
        }
    captures = roundtrips.captured(stack.base_url, opts.workers)
    if not captures:
        return head | {"error": "no request was captured (too few successful requests?)"}
    script.parent.mkdir(parents=True, exist_ok=True)
    script.with_suffix(".captured.json").write_text(json.dumps(captures, indent=1))
    capture = pgbench.pair(captures)[0]
    say(f"pgbench: {scenario.name}: {capture['statements']} statements, {opts.connections} clients")
    try:
        r = pgbench.run(
            opts.database_url,
            captures,
            path=script,
            clients=opts.connections,
            threads=opts.threads,
            duration_s=opts.duration_s,
            warmup_s=opts.warmup_s,
        )
    except (pgbench.PgbenchUnavailable, subprocess.SubprocessError, OSError) as exc:
        return head | {"error": str(exc)}
    return head | {
        "tps": round(r.tps, 1),
        "transactions": r.transactions,
        "clients": r.clients,
        "statements": r.statements,
        "round_trips": r.round_trips,
        "app_round_trips": capture["round_trips"],
        "script": str(r.script),
    }


def _measure_step(
    opts: Options,
    wrk_path: str,
    step: Step,
    stack: Server,
    bare: Server,
    requests: dict[Scenario, Request],
    extras: Extras,
) -> report.Run:
    if step.kind == "scenario":
        assert step.scenario is not None
        req = requests[step.scenario]
        return _measure_scenario(opts, wrk_path, step.scenario, stack, req, extras)
    server = bare if step.kind == "bare" else stack
    req = noop_request(step.method)
    result, cpu = measure(opts, wrk_path, server, req)
    name = "bare-starlette" if step.kind == "bare" else "ceiling"
    return report.Run(step.kind, name, step.method, NOOP_PATH, result, cpu)


def _attach_runs(outcomes: list[report.Outcome], runs: list[report.Run]) -> list[report.Outcome]:
    index = {(r.name, r.method): i for i, r in enumerate(runs) if r.kind == "scenario"}
    return [
        report.Outcome(
            o.name,
            o.method,
            o.path,
            o.ceiling_method,
            o.status,
            o.error,
            run=index.get((o.name, o.method)),
        )
        for o in outcomes
    ]
