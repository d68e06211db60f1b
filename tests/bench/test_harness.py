"""The bench harness: wrk output parsing, ratio math, the JSON document, CPU accounting,
the scenario registry, and one very short end-to-end ``vaxport bench`` run."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from bench.procs import process_tree, tree_cpu_seconds
from bench.wrk import WrkOutputError, WrkResult, parse_output

from bench import pgbench, profile, report, runner, scenarios
from tests.conftest import requires_postgres
from vaxport.core.db import Database

ROOT = Path(__file__).resolve().parents[2]

WRK_STDOUT = """\
Running 10s test @ http://127.0.0.1:41234/bench/noop
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     7.92ms    2.10ms  45.01ms   91.02%
    Req/Sec     8.10k   512.00     8.90k    70.00%
  80960 requests in 10.00s, 12.35MB read
  Non-2xx or 3xx responses: 12
Requests/sec:   8095.87
Transfer/sec:      1.23MB
VAXPORT_WRK {"requests":80960,"duration_us":10000512,"bytes":12949120,\
"errors":{"connect":0,"read":1,"write":0,"status":12,"timeout":2},\
"latency_us":{"p50":7650,"p90":9800,"p99":15210,"max":45010,"mean":7920.4}}
"""


def wrk_result(rps: float, *, p50: float = 5.0, non_2xx: int = 0) -> WrkResult:
    """A 10-second run at ``rps`` requests per second."""
    return WrkResult(
        requests=int(rps * 10),
        duration_s=10.0,
        bytes=0,
        p50_ms=p50,
        p90_ms=p50 * 1.5,
        p99_ms=p50 * 3,
        max_ms=p50 * 10,
        mean_ms=p50,
        non_2xx=non_2xx,
        connect_errors=0,
        read_errors=0,
        write_errors=0,
        timeouts=0,
    )


def run(kind: report.RunKind, method: str, rps: float, cpu_s: float, name: str = "") -> report.Run:
    default = {"stack": "ceiling", "bare": "bare-starlette"}.get(kind, "x")
    return report.Run(kind, name or default, method, "/p", wrk_result(rps), cpu_s)


def test_wrk_report_line_is_parsed_exactly() -> None:
    r = parse_output(WRK_STDOUT)
    assert r.requests == 80960
    assert r.duration_s == pytest.approx(10.000512)
    assert r.rps == pytest.approx(80960 / 10.000512)
    assert (r.p50_ms, r.p90_ms, r.p99_ms, r.max_ms) == (7.65, 9.8, 15.21, 45.01)
    assert r.non_2xx == 12
    assert r.socket_errors == 3


def test_wrk_output_without_report_line_is_a_clear_error() -> None:
    with pytest.raises(WrkOutputError, match="VAXPORT_WRK"):
        parse_output("Running 1s test @ http://x\n  unable to connect to 127.0.0.1:1\n")


def test_scenario_ratio_is_to_the_mean_of_its_neighbouring_same_method_ceilings() -> None:
    runs = [
        run("stack", "GET", 10_000, 1.0),
        run("stack", "POST", 1_000, 5.0),  # other method: never a GET neighbour
        run("scenario", "GET", 3_000, 1.2, name="config"),
        run("stack", "GET", 8_000, 1.0),
    ]
    outcome = report.Outcome("config", "GET", "/c", "GET", "ok", run=2)
    s = report.scenario_summary(runs, outcome)
    assert s["ceiling_rps"] == 9_000
    assert s["ratio"] == pytest.approx(3_000 / 9_000, abs=1e-3)
    # CPU per 1k requests: scenario 1.2 s / 30k = 0.04; ceilings 1.0/100k and 1.0/80k.
    ceiling_cpu = (1.0 / 100_000 + 1.0 / 80_000) / 2 * 1000
    assert s["cpu_s_per_1k"] == pytest.approx(0.04)
    assert s["cpu_vs_ceiling"] == pytest.approx(0.04 / ceiling_cpu, abs=1e-3)


def test_scenario_at_the_edge_uses_its_one_neighbour() -> None:
    runs = [run("scenario", "POST", 500, 1.0, name="register"), run("stack", "POST", 2_000, 1.0)]
    s = report.scenario_summary(runs, report.Outcome("register", "POST", "/r", "POST", "ok", run=0))
    assert s["ceiling_rps"] == 2_000
    assert s["ratio"] == 0.25


def test_unavailable_scenario_keeps_its_reason_and_has_no_numbers() -> None:
    outcome = report.Outcome("config", "GET", "/c", "GET", "unavailable", error="route 404")
    s = report.scenario_summary([], outcome)
    assert s == {
        "name": "config",
        "method": "GET",
        "path": "/c",
        "status": "unavailable",
        "error": "route 404",
    }


def test_stack_vs_bare_compares_the_bare_run_with_the_ceilings_around_it() -> None:
    runs = [
        run("stack", "GET", 6_000, 1.2),
        run("bare", "GET", 10_000, 0.8),
        run("stack", "GET", 5_000, 1.0),
        run("stack", "POST", 5_000, 1.0),
        run("bare", "POST", 9_000, 0.6),
        run("stack", "POST", 5_000, 1.0),
    ]
    cmp = report.stack_vs_bare(runs)
    assert cmp["GET"]["ratio"] == pytest.approx(0.55)
    assert cmp["POST"]["ratio"] == pytest.approx(5_000 / 9_000, abs=1e-3)
    # Stack: (1.2/60k + 1.0/50k)/2 per request; bare 0.8/100k.
    assert cmp["GET"]["cpu_per_request_ratio"] == pytest.approx(
        ((1.2 / 60_000 + 1.0 / 50_000) / 2) / (0.8 / 100_000), abs=1e-3
    )


def test_ratio_without_a_reference_is_none_not_a_crash() -> None:
    assert report.ratio(1.0, 0.0) is None
    assert report.ratio(None, 2.0) is None
    assert report.stack_vs_bare([run("bare", "GET", 1_000, 0.1)])["GET"]["ratio"] is None


def test_report_document_shape_round_trips_through_json() -> None:
    runs = [
        run("stack", "GET", 6_000, 1.2),
        run("bare", "GET", 10_000, 0.8),
        run("stack", "GET", 5_000, 1.0),
        run("scenario", "GET", 5_500, 1.1, name="noop"),
        run("stack", "GET", 5_000, 1.0),
    ]
    outcomes = [
        report.Outcome("noop", "GET", "/bench/noop", "GET", "ok", run=3),
        report.Outcome("config", "GET", "/c", "GET", "unavailable", error="no route"),
    ]
    meta = {
        "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T00:01:00+00:00",
        "host": {"cpus": 2},
        "config": {
            "scenarios": ["config", "noop"],
            "duration_s": 10.0,
            "warmup_s": 2.0,
            "connections": 64,
            "threads": 1,
            "workers": 1,
            "database": "sqlite (temporary)",
            "cache": "in-process",
        },
    }
    doc = json.loads(json.dumps(report.build(runs=runs, outcomes=outcomes, meta=meta)))
    assert doc["schema"] == report.SCHEMA_VERSION
    assert set(doc) >= {"started_at", "host", "config", "stack_vs_bare", "scenarios", "runs"}
    assert [r["kind"] for r in doc["runs"]] == ["stack", "bare", "stack", "scenario", "stack"]
    assert set(doc["runs"][0]) >= {
        "rps",
        "p50_ms",
        "p99_ms",
        "cpu_s_per_1k",
        "non_2xx",
        "socket_errors",
    }
    noop, config = doc["scenarios"]
    assert noop["ratio"] == pytest.approx(5_500 / 5_000)
    assert config["status"] == "unavailable"
    text = report.table(doc)
    assert "noop" in text
    assert "1.10" in text
    assert "config GET: unavailable: no route" in text
    assert "production stack / bare Starlette, GET: 0.55" in text


def test_database_password_never_reaches_the_results() -> None:
    url = "postgresql+asyncpg://app:s3cret@db.internal:5432/vaxport"
    assert report.redact_url(url) == "postgresql+asyncpg://app:***@db.internal:5432/vaxport"
    assert report.redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_plan_puts_every_scenario_and_bare_run_between_two_ceilings() -> None:
    steps = runner.plan(scenarios.select(None))
    for i, step in enumerate(steps):
        if step.kind == "stack":
            continue
        method = step.scenario.ceiling_method if step.scenario else step.method
        before = [s for s in steps[:i] if s.kind == "stack" and s.method == method]
        after = [s for s in steps[i + 1 :] if s.kind == "stack" and s.method == method]
        assert before, step
        assert after, step
        assert steps[i - 1].kind == "stack"
        assert steps[i + 1].kind == "stack"


def test_scenario_selection_by_name_and_unknown_names() -> None:
    noop = scenarios.select(["noop"])
    assert [(s.name, s.method) for s in noop] == [("noop", "GET"), ("noop", "POST")]
    with pytest.raises(ValueError, match="unknown scenario"):
        scenarios.select(["noop", "nope"])


def test_writes_are_compared_with_the_post_ceiling() -> None:
    s = scenarios.Scenario(name="book", method="PATCH", path="/x", description="d")
    assert s.ceiling_method == "POST"
    read = scenarios.Scenario(name="r", method="GET", path="/x", description="d")
    assert read.ceiling_method == "GET"


def test_tenant_code_comes_from_the_country_file(tmp_path: Path) -> None:
    declared = tmp_path / "xx.yaml"
    declared.write_text("code: dm\nname: Demo\n")
    assert scenarios.tenant_code(declared) == "dm"
    undeclared = tmp_path / "demo.yaml"
    undeclared.write_text("name: Demo\n")
    assert scenarios.tenant_code(undeclared) == "demo"


def _target(tmp_path: Path, tenant_answer: subprocess.CompletedProcess[str]) -> scenarios.Target:
    """A target whose `vaxport` migrates fine and answers `tenant ...` with ``tenant_answer``."""
    calls: list[tuple[str, ...]] = []

    def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
        calls.append(args)
        if args[0] == "tenant":
            return tenant_answer
        return subprocess.CompletedProcess(["vaxport", *args], 0, "database at head", "")

    target = scenarios.Target(base_url="http://127.0.0.1:1", repo_root=tmp_path, run_cli=run_cli)
    target.calls = calls  # type: ignore[attr-defined]
    return target


def test_config_setup_without_the_country_file_says_what_is_missing(tmp_path: Path) -> None:
    ok = subprocess.CompletedProcess(["vaxport"], 0, "", "")
    with pytest.raises(scenarios.ScenarioUnavailable, match=r"countries/demo\.yaml does not exist"):
        scenarios.load_demo_tenant(_target(tmp_path, ok))


def test_config_setup_without_the_tenant_command_says_so(tmp_path: Path) -> None:
    (tmp_path / "countries").mkdir()
    (tmp_path / "countries" / "demo.yaml").write_text("code: demo\n")
    missing = subprocess.CompletedProcess(["vaxport"], 2, "", "Error: No such command 'tenant'.")
    target = _target(tmp_path, missing)
    with pytest.raises(scenarios.ScenarioUnavailable, match="tenant load` is not in this build"):
        scenarios.load_demo_tenant(target)
    assert target.calls[0] == ("db", "upgrade")  # type: ignore[attr-defined]


def test_config_setup_loads_the_demo_country_and_names_the_tenant(tmp_path: Path) -> None:
    (tmp_path / "countries").mkdir()
    (tmp_path / "countries" / "demo.yaml").write_text("code: dm\n")
    ok = subprocess.CompletedProcess(["vaxport"], 0, "loaded", "")
    target = _target(tmp_path, ok)
    assert scenarios.load_demo_tenant(target).params == {"tenant": "dm"}
    assert target.calls == [  # type: ignore[attr-defined]
        ("db", "upgrade"),
        ("tenant", "load", str(tmp_path / "countries" / "demo.yaml")),
    ]


def test_probe_turns_a_404_into_the_scenarios_hint() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(404, json={"status": 404}))
    req = runner.Request("GET", "/api/v1/demo/config")
    with pytest.raises(scenarios.ScenarioUnavailable, match="answered 404: the route is missing"):
        runner.probe("http://x", req, hint="the route is missing", transport=transport)
    ok = httpx.MockTransport(lambda request: httpx.Response(200, json={}))
    runner.probe("http://x", req, hint="unused", transport=ok)


def test_cpu_of_a_process_tree_includes_its_children() -> None:
    # The child burns 0.4 s of its own clock; /proc counts whole clock ticks, which can
    # round the same work down a tick, so the tree is asked for 0.3 s, not the exact 0.4.
    burn = (
        "import time\n"
        "while time.process_time() < 0.4: pass\n"
        "print('done', flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys, time\n"
            f"subprocess.Popen([sys.executable, '-c', {burn!r}])\n"
            "time.sleep(60)\n",
        ],
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            tree = process_tree(parent.pid)
            if len(tree) == 2 and tree_cpu_seconds(parent.pid) >= 0.3:
                break
            time.sleep(0.05)
        assert len(process_tree(parent.pid)) == 2
        assert tree_cpu_seconds(parent.pid) >= 0.3  # the child burnt it, not the parent
    finally:
        for pid in reversed(process_tree(parent.pid)):
            os.kill(pid, 9)
        parent.wait()


@pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is not installed (apt-get install wrk)")
def test_vaxport_bench_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    pythonpath = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": pythonpath}
    argv = ["--scenarios", "noop,config", "--duration", "1", "--warmup", "0"]
    argv += ["--connections", "8", "--json", "--output", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "vaxport", "bench", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout, done.stderr[-3000:]
    doc = json.loads(done.stdout)
    assert doc == json.loads(out.read_text())
    by_name = {(s["name"], s["method"]): s for s in doc["scenarios"]}
    assert list(by_name) == [("noop", "GET"), ("noop", "POST"), ("config", "GET")]
    for key in [("noop", "GET"), ("noop", "POST")]:
        s = by_name[key]
        assert s["status"] == "ok"
        assert s["rps"] > 0
        assert s["ratio"] > 0
        assert s["non_2xx"] == 0
        assert s["cpu_s_per_1k"] > 0
    assert set(doc["stack_vs_bare"]) == {"GET", "POST"}
    assert "production stack / bare Starlette" in done.stderr
    # SQLite: no round trips are counted, the table prints "-".
    assert all(r["round_trips_per_request"] is None for r in doc["runs"])
    config = by_name[("config", "GET")]
    if (ROOT / "countries" / "demo.yaml").is_file():
        # The tenancy context is in this tree: the cached config read must run.
        assert config["status"] == "ok", config["error"]
        assert done.returncode == 0
        assert len(doc["runs"]) == 12
    else:
        # Not yet: reported with its reason, the rest measured, exit status 1.
        assert config["status"] == "unavailable"
        assert "demo.yaml does not exist" in config["error"]
        assert done.returncode == 1
        assert len(doc["runs"]) == 10


def test_sqlite_runs_print_no_round_trips() -> None:
    runs = [run("stack", "POST", 2_000, 1.0), run("scenario", "POST", 500, 1.0, name="register")]
    outcomes = [report.Outcome("register", "POST", "/r", "POST", "ok", run=1)]
    meta = {"started_at": "t", "config": {
        "workers": 1, "connections": 8, "threads": 1, "duration_s": 1.0, "warmup_s": 0.0,
        "database": "sqlite (temporary)", "cache": "in-process",
    }}  # fmt: skip
    doc = report.build(runs=runs, outcomes=outcomes, meta=meta)
    assert doc["scenarios"][0]["round_trips_per_request"] is None
    assert report.table(doc).splitlines()[4].rstrip().endswith("-")


def test_pgbench_script_varies_per_request_values_and_keeps_constants() -> None:
    def capture(person: str, reference: str, ciphertext: str) -> dict[str, object]:
        insert = "INSERT INTO people (id, tenant_id, reference, name) VALUES ($1, $2, $3, $4)"
        return {
            "method": "POST", "path": "/p", "round_trips": 4, "statements": 3,
            "exchanges": [
                {"op": "query", "sql": "BEGIN;", "rows": []},
                {"op": "prepare", "sql": insert, "rows": []},
                {"op": "execute", "sql": insert, "rows": [[
                    {"literal": f"'{person}'::uuid", "type": "uuid"},
                    {"literal": "'0000-tenant'::uuid", "type": "uuid"},
                    {"literal": f"'{reference}'::varchar", "type": "varchar"},
                    {"literal": f"E'\\\\x{ciphertext}'::bytea", "type": "bytea"},
                ]]},
                {"op": "execute_many", "sql": "INSERT INTO audit (subject) VALUES ($1)", "rows": [
                    [{"literal": f"'{person}'::uuid", "type": "uuid"}],
                    [{"literal": "'0000-tenant'::uuid", "type": "uuid"}],
                ]},
                {"op": "query", "sql": "COMMIT;", "rows": []},
            ],
        }  # fmt: skip

    first = capture("0001-a", "HQS39HW6", "00ff00ff")
    warm = capture("0002-b", "ZZZ11AAA", "11ee11ee")
    cold = capture("0003-c", "QQQ22BBB", "22dd22dd")
    extra = {"op": "query", "sql": "SELECT 1;", "rows": []}
    cold["exchanges"].insert(1, extra)  # type: ignore[attr-defined]
    text, round_trips = pgbench.script([cold, first, warm])
    assert round_trips == 4  # BEGIN, the insert, the pipelined pair, COMMIT; no prepare
    assert "SELECT 1" not in text  # the odd one out is not the one replayed
    assert "'0000-tenant'::uuid" in text  # equal in both requests: a constant
    for per_request in ("0001-a", "HQS39HW6", "00ff00ff"):
        assert per_request not in text
    assert "(md5(:seed::text || '-0')::uuid)" in text  # the person, the same both times
    assert text.count("'-0')") == 2
    assert "left(repeat(md5(:seed::text || '-1'), 1), 8)::varchar" in text
    assert "substr(decode(repeat(md5(:seed::text || '-2'), 1), 'hex'), 1, 4)" in text
    assert "\\startpipeline\nINSERT INTO audit" in text
    assert text.splitlines()[2].startswith("\\set seed random(")


def test_profile_top_sums_cumulative_and_self_samples(tmp_path: Path) -> None:
    folded = tmp_path / "p.collapsed.txt"
    folded.write_text(
        'process 1:"serve";run (asyncio/runners.py:1);handler (app.py:10);encrypt (c.py:5) 30\n'
        'process 1:"serve";run (asyncio/runners.py:1);handler (app.py:12) 10\n'
        'process 1:"serve";run (asyncio/runners.py:1);parse (http.py:3) 60\n'
    )
    top = profile.top(folded, cpu_ms_per_request=2.0)
    cumulative = {r["function"]: r for r in top["cumulative"]}
    assert top["samples"] == 100
    assert cumulative["handler (app.py)"]["samples"] == 40  # lines 10 and 12: one function
    assert cumulative["handler (app.py)"]["ms_per_request"] == pytest.approx(0.8)
    assert cumulative["handler (app.py)"]["self_samples"] == 10
    assert [r["function"] for r in top["self"]][:1] == ["parse (http.py)"]
    assert all(not r["function"].startswith("process") for r in top["cumulative"])


@pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is not installed (apt-get install wrk)")
@requires_postgres
async def test_bench_on_postgresql_counts_round_trips_replays_with_pgbench_and_profiles(
    tmp_path: Path, empty_db: Database
) -> None:
    out = tmp_path / "result.json"
    pythonpath = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": pythonpath}
    argv = ["--scenarios", "register", "--duration", "2", "--warmup", "0", "--prefill", "10"]
    argv += ["--connections", "4", "--profile", "--output", str(out)]
    argv += ["--database-url", empty_db.url]
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "vaxport", "bench", *argv],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    _check_postgres_bench(out, done)


def _check_postgres_bench(out: Path, done: subprocess.CompletedProcess[str]) -> None:
    assert out.is_file(), done.stderr[-3000:] + done.stdout[-3000:]
    doc = json.loads(out.read_text())
    by_name = {(s["name"], s["method"]): s for s in doc["scenarios"]}
    register = by_name[("register", "POST")]
    assert register["status"] == "ok", register["error"]
    assert register["round_trips_per_request"] >= 3  # at least BEGIN, a statement, COMMIT
    ceilings = [r for r in doc["runs"] if r["kind"] == "stack"]
    assert all(r["round_trips_per_request"] is None for r in ceilings)  # only scenarios
    (replay,) = doc["pgbench"]
    assert replay["tps"] > 0, replay.get("error")
    assert replay["ratio"] > 0
    assert Path(replay["script"]).is_file()
    assert "register POST / pgbench of its statements" in done.stdout
    profiles = {p["scenario"] + p["method"]: p for p in doc["profiles"]}
    assert set(profiles) == {"registerPOST"}
    assert Path(profiles["registerPOST"]["path"]).parent == out.with_suffix("")
    assert profiles["registerPOST"]["samples"] > 0
    assert "profile register POST" in done.stdout
