"""`vaxport demo`: prepares the demo country idempotently and serves it with a worker."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.support.parts import PARTS
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.db import Database
from vaxport.demo import DemoReport, prepare
from vaxport.settings import Settings


async def test_prepare_is_idempotent_and_reuses_the_data(tmp_path: Path) -> None:
    settings = Settings(env="development", data_dir=tmp_path, countries_dir=ROOT / "countries")
    db = Database(settings.effective_database_url)
    try:
        first, again = DemoReport(url="x"), DemoReport(url="x")
        await prepare(settings, db, Cache(MemoryBackend()), first, parts=PARTS)
        await prepare(settings, db, Cache(MemoryBackend()), again, parts=PARTS)
    finally:
        await db.dispose()
    assert first.tenant_status == "demo v1 (created)"
    assert again.tenant_status == "demo v1 (unchanged)"
    # The citizen's family member gets a first dose (through the use cases) once.
    assert [line for line in first.lines if "doses: dose 1 of CoviGuard mRNA" in line]
    assert not [line for line in again.lines if "doses:" in line]
    assert [line for line in first.lines if "/demo/staff/people" in line]


def _citizen_signs_in_with_the_code_the_demo_shows(port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    asked = httpx.post(f"{base}/api/v1/demo/auth/code", json={"phone": "+14165550100"})
    assert asked.status_code == 202, asked.text
    deadline = time.monotonic() + 20
    codes: list[str] = []
    while not codes:
        assert time.monotonic() < deadline, "the code never reached /dev/messages"
        time.sleep(0.2)
        codes = re.findall(r"Your vaxport code is (\d{6})", httpx.get(f"{base}/dev/messages").text)
    done = httpx.post(
        f"{base}/api/v1/demo/auth/code/verify",
        json={"transaction_id": asked.json()["transaction_id"], "code": codes[0]},
    )
    assert done.status_code == 200, done.text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(bool(os.environ.get("VAXPORT_TEST_DATABASE_URL")), reason="SQLite leg only")
def test_demo_serves_the_landing_page_and_config_then_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "VAXPORT_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT / "src")}
    env.pop("VAXPORT_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from vaxport.cli import main; main()", "demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "demo did not become ready"
            time.sleep(0.2)
        landing = httpx.get(f"http://127.0.0.1:{port}/")
        assert landing.status_code == 200
        assert "Demoland" in landing.text
        config = httpx.get(f"http://127.0.0.1:{port}/api/v1/demo/config")
        assert config.status_code == 200
        assert config.json()["code"] == "demo"
        _citizen_signs_in_with_the_code_the_demo_shows(port)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out.decode()
    text = out.decode()
    assert "vaxport demo is ready" in text
    assert "demo.admin" in text
    assert "TOTP secret" in text
    assert "citizen     phone +14165550100" in text
    assert "via console channel" in text  # the code was printed for the person
