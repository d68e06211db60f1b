"""Server processes for the bench: start, wait until ready, read CPU time, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

_CLK_TCK = os.sysconf("SC_CLK_TCK")


class ServerStartError(RuntimeError):
    """A server did not come up or died (its log tail is in the message)."""


def free_port() -> int:
    """A TCP port on the loopback interface nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after it.
    return raw[raw.rindex(")") + 2 :].split()


def process_tree(root: int) -> list[int]:
    """``root`` and all its live descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of ``root`` and its descendants, reaped ones included.

    Counting each process' ``cutime``/``cstime`` keeps the total continuous when a
    worker exits and is reaped by its parent.
    """
    ticks = 0
    for pid in process_tree(root):
        fields = _stat_fields(pid)
        if fields is not None:
            # utime, stime, cutime, cstime are fields 14-17 (1-based) of /proc/pid/stat.
            ticks += sum(int(v) for v in fields[11:15])
    return ticks / _CLK_TCK


@dataclass
class Server:
    """One server process group started by the bench."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    port: int
    log_path: Path
    ready_path: str
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def launch(self) -> None:
        """Start the process in its own session (its own process group)."""
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, *, timeout: float = 60.0) -> None:
        """Wait until ``ready_path`` answers 200; the log tail explains a failure."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        last = "no answer"
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise ServerStartError(
                        f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}"
                    )
                try:
                    r = client.get(self.base_url + self.ready_path)
                    if r.status_code == 200:
                        return
                    last = f"{r.status_code} {r.text[:200]}"
                except httpx.TransportError as exc:
                    last = type(exc).__name__
                time.sleep(0.2)
        raise ServerStartError(
            f"{self.name} not ready after {timeout:.0f}s ({self.ready_path}: {last}):\n"
            f"{self.log_tail()}"
        )

    def cpu_seconds(self) -> float:
        """CPU seconds of the server's process tree; raises if the server has died."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise ServerStartError(
                f"{self.name} exited with {self.proc.returncode} during the bench:\n"
                f"{self.log_tail()}"
            )
        return tree_cpu_seconds(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, *, grace: float = 10.0) -> None:
        """SIGTERM the process group this server leads, SIGKILL it after ``grace``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = self.proc.pid  # start_new_session: the server leads its own group
        try:
            os.killpg(pgid, signal.SIGTERM)
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass
