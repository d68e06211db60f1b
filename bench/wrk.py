"""The load generator: Debian's ``wrk`` (C, event loop), scripted in Lua.

A Python load generator would burn more CPU than the server it measures on a small
machine; wrk drives tens of thousands of requests per second from one thread.
Every script ends with ``report.done``, which prints one ``VAXPORT_WRK {json}`` line
with exact counts and latency percentiles, so nothing is scraped from wrk's prose.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

LUA_DIR = Path(__file__).resolve().parent / "lua"
MARKER = "VAXPORT_WRK "


class WrkMissingError(RuntimeError):
    """wrk is not installed and could not be installed."""


class WrkOutputError(RuntimeError):
    """wrk ran but did not print the report line."""


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured (latencies in milliseconds)."""

    requests: int
    duration_s: float
    bytes: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    non_2xx: int
    connect_errors: int
    read_errors: int
    write_errors: int
    timeouts: int
    records: int | None = None  # records the answers accepted (a batch per request)

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def socket_errors(self) -> int:
        return self.connect_errors + self.read_errors + self.write_errors + self.timeouts


def parse_output(stdout: str) -> WrkResult:
    """The result from wrk's output (the line ``report.lua`` prints)."""
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER) :])
            errors = data["errors"]
            return WrkResult(
                requests=int(data["requests"]),
                duration_s=data["duration_us"] / 1e6,
                bytes=int(data["bytes"]),
                p50_ms=data["latency_us"]["p50"] / 1000,
                p90_ms=data["latency_us"]["p90"] / 1000,
                p99_ms=data["latency_us"]["p99"] / 1000,
                max_ms=data["latency_us"]["max"] / 1000,
                mean_ms=data["latency_us"]["mean"] / 1000,
                # wrk counts a status >= 400 as a "status" error; a 3xx passes (and
                # the probe before each scenario insists on a 2xx).
                non_2xx=int(errors["status"]),
                connect_errors=int(errors["connect"]),
                read_errors=int(errors["read"]),
                write_errors=int(errors["write"]),
                timeouts=int(errors["timeout"]),
                records=int(data["records"]) if "records" in data else None,
            )
    tail = "\n".join(stdout.splitlines()[-10:])
    raise WrkOutputError(f"wrk printed no {MARKER.strip()} line; its output ended with:\n{tail}")


def ensure_wrk() -> str:
    """The path of ``wrk``; installs Debian's package when missing and running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
            done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise WrkMissingError(
                    f"installing wrk failed ({' '.join(argv)}):\n{done.stderr[-2000:]}"
                )
        found = shutil.which("wrk")
        if found:
            return found
    raise WrkMissingError(
        "wrk is not installed. Install Debian's package (`sudo apt-get install wrk`); "
        "the bench installs it by itself only when it runs as root."
    )


def version(wrk: str) -> str:
    """wrk's version line (``wrk 4.1.0 ...``)."""
    done = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def run(
    wrk: str,
    *,
    url: str,
    script: str,
    duration_s: float,
    connections: int,
    threads: int,
    env: dict[str, str],
    timeout_s: float = 10.0,
) -> WrkResult:
    """Drive ``url`` for ``duration_s`` with ``script`` (a file in ``bench/lua``)."""
    argv = [
        wrk,
        f"--threads={threads}",
        f"--connections={max(connections, threads)}",
        f"--duration={max(1, round(duration_s))}s",
        f"--timeout={timeout_s:g}s",
        f"--script={LUA_DIR / script}",
        url,
    ]
    lua_env = {**os.environ, **env, "LUA_PATH": f"{LUA_DIR}/?.lua;;"}
    done = subprocess.run(
        argv,
        env=lua_env,
        capture_output=True,
        text=True,
        check=False,
        timeout=duration_s + timeout_s + 30,
    )
    if done.returncode != 0:
        raise WrkOutputError(f"wrk exited with {done.returncode}: {done.stderr.strip()[-2000:]}")
    return parse_output(done.stdout)
