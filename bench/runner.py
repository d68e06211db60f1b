"""``vaxport bench``: start the servers, prepare the scenarios, drive wrk, report.

Order of the measured runs, per ceiling method (GET, then POST)::

    ceiling, bare, ceiling, scenario 1, ceiling, scenario 2, ceiling, ...

so that every scenario, and bare Starlette, sits between two ceilings measured
moments apart. Each measured run is preceded by a warm-up run of the same request.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import report, wrk
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
        }
    )
    return env


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
        body=scenario.body,
        content_type=scenario.content_type,
        headers=tuple(prepared.headers.items()),
        lua=scenario.lua,
        env=tuple(prepared.env.items()),
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
    opts: Options, wrk_path: str, server: Server, req: Request, *, warm: bool = True
) -> tuple[wrk.WrkResult, float]:
    """Warm up, then one measured run; returns wrk's result and the server's CPU seconds."""
    url = server.base_url + req.path
    common: dict[str, Any] = {
        "url": url,
        "script": req.lua,
        "connections": opts.connections,
        "threads": opts.threads,
        "env": req.wrk_env(),
    }
    if warm and opts.warmup_s > 0:
        wrk.run(wrk_path, duration_s=opts.warmup_s, **common)
    before = server.cpu_seconds()
    result = wrk.run(wrk_path, duration_s=opts.duration_s, **common)
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
    tmp = Path(tempfile.mkdtemp(prefix="vaxport-bench-"))
    env = server_env(opts, tmp / "data")
    stack, bare = _servers(opts, env, tmp)
    started_at = _now()
    loadavg_start = list(os.getloadavg())
    try:
        for server in (stack, bare):
            say(f"starting {server.name} on {server.base_url} ({opts.workers} worker(s))")
            server.launch()
        for server in (stack, bare):
            server.wait_ready()
        target = Target(base_url=stack.base_url, repo_root=REPO_ROOT, run_cli=_cli_runner(env))
        requests, outcomes = _prepare_all(scenarios, target)
        runnable = [s for s in scenarios if s in requests]
        runs: list[report.Run] = []
        steps = plan(runnable)
        for n, step in enumerate(steps, 1):
            runs.append(_measure_step(opts, wrk_path, step, stack, bare, requests))
            r = runs[-1]
            say(
                f"[{n}/{len(steps)}] {r.kind:<8} {r.name:<14} {r.method:<5} "
                f"{r.result.rps:>9.0f} req/s  p99 {r.result.p99_ms:.1f} ms"
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
        },
    }
    pairs = [(s.name, s.versus) for s in scenarios if s.versus]
    doc = report.build(runs=runs, outcomes=outcomes, meta=meta, pairs=pairs)
    path = opts.output or RESULTS_DIR / f"{started_at.replace(':', '').replace('+0000', 'Z')}.json"
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


def _measure_step(
    opts: Options,
    wrk_path: str,
    step: Step,
    stack: Server,
    bare: Server,
    requests: dict[Scenario, Request],
) -> report.Run:
    if step.kind == "scenario":
        assert step.scenario is not None
        req = requests[step.scenario]
        result, cpu = measure(opts, wrk_path, stack, req)
        return report.Run("scenario", step.scenario.name, req.method, req.path, result, cpu)
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
