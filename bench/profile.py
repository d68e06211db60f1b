"""Sampling profiles of the server during a measured run (``vaxport bench --profile``).

py-spy (PyPI ``py-spy``, a dev dependency) samples the server's process tree from the
outside, 250 times a second, so the profiled run is the measured run. Each sample pauses
the process for some microseconds (about 1% at this rate). It writes
collapsed stacks (one line per distinct stack, ``frame;frame;frame count``), which
speedscope (https://www.speedscope.app, "Import") and ``flamegraph.pl`` read.
:func:`top` sums them per function: *cumulative* (the samples in which a function is
anywhere on the stack) and *self* (at the top). Only stacks holding the GIL are kept
(``--gil``): an event loop waiting in ``epoll`` and idle pool threads are left out, so
a function's share of the samples times the run's measured CPU per request (from
``/proc``) estimates its CPU milliseconds per request (native code that releases the
GIL, such as argon2, is missed).
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IDLE_OR_NATIVE = "(no Python frame: native code or idle)"
RATE_HZ = 250  # samples per second; py-spy's default of 100 is thin for a 5 s run
_LINE = re.compile(r"^(.*) (\d+)$")
_FRAME_LINE = re.compile(r":\d+\)$")


class ProfilerMissing(Exception):  # noqa: N818 - a state, reported with its reason
    """py-spy is not installed."""


def find() -> str:
    """py-spy beside this Python, else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    found = str(beside) if beside.is_file() else shutil.which("py-spy")
    if found is None:
        raise ProfilerMissing(
            "--profile needs py-spy: pip install py-spy (it is in the dev extras)"
        )
    return found


@dataclass
class Recording:
    """py-spy attached to a process tree, writing collapsed stacks to ``path``."""

    binary: str
    pid: int
    path: Path
    proc: subprocess.Popen[bytes] | None = None
    output: str = ""

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        argv = [self.binary, "record", "--pid", str(self.pid), "--subprocesses"]
        argv += ["--gil", "--rate", str(RATE_HZ), "--format", "raw"]
        argv += ["--output", str(self.path)]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )

    def stop(self) -> str:
        """Stop sampling (SIGINT makes py-spy write its file); its own report line."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            out, _ = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        self.output = out.decode(errors="replace").strip()
        return self.output


def _function(frame: str) -> str:
    """``handler (vaxport/registration/api.py:42)`` -> ``handler (vaxport/registration/api.py)``."""
    return _FRAME_LINE.sub(")", frame)


def top(path: Path, *, cpu_ms_per_request: float | None, n: int = 40) -> dict[str, Any]:
    """Per function: cumulative and self samples, their shares, and the shares of
    ``cpu_ms_per_request`` (the run's measured CPU per request)."""
    cumulative: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        count = int(match.group(2))
        frames = [_function(f) for f in match.group(1).split(";") if not f.startswith("process ")]
        frames = frames or [IDLE_OR_NATIVE]
        total += count
        for fn in set(frames):
            cumulative[fn] = cumulative.get(fn, 0) + count
        own[frames[-1]] = own.get(frames[-1], 0) + count

    def ms(samples: int) -> float | None:
        if cpu_ms_per_request is None or not total:
            return None
        return round(samples / total * cpu_ms_per_request, 4)

    def rows(table: dict[str, int]) -> list[dict[str, Any]]:
        ranked = sorted(table.items(), key=lambda kv: -kv[1])[:n]
        return [
            {
                "function": fn,
                "samples": s,
                "share": round(s / total, 4) if total else 0.0,
                "ms_per_request": ms(s),
                "self_samples": own.get(fn, 0),
            }
            for fn, s in ranked
        ]

    return {
        "samples": total,
        "rate_hz": RATE_HZ,
        "cpu_ms_per_request": cpu_ms_per_request,
        "cumulative": rows(cumulative),
        "self": rows(own),
    }
