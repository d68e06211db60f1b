"""Nothing acknowledged is lost, nothing is done twice: registrations across a crash.

A PostgreSQL cluster of the test's own (initdb in a temporary directory, its own port
and socket: the machine's server is never touched) and a real ``vaxport serve``. A
client registers people concurrently, each request with its own Idempotency-Key; mid-run
the app gets SIGKILL and PostgreSQL an immediate shutdown (no checkpoint: crash
recovery at the next start). After both restart, the client retries every request it
sent, acknowledged or not, with the same key and body. Every 201 seen before the crash
must replay the same person, every other request must complete, and the tenant must
hold exactly one person per key.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.procs import Server, free_port
from bench.scenarios import REGISTER_TENANT, Target, prepare_registration
from typer.testing import CliRunner

from tests.conftest import PG_URL, ROOT
from vaxport.cli import app as cli_app
from vaxport.settings import get_settings
from vaxport.tenancy.checksums import luhn_check_digit

PG_BIN = Path(os.environ.get("VAXPORT_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))

pytestmark = [
    pytest.mark.skipif(
        not PG_URL, reason="PostgreSQL leg only (VAXPORT_TEST_DATABASE_URL is not set)"
    ),
    pytest.mark.skipif(
        not (PG_BIN / "initdb").is_file(),
        reason=f"no PostgreSQL server binaries in {PG_BIN} (VAXPORT_TEST_PG_BIN)",
    ),
]

ACKED_BEFORE_CRASH = 25  # 201s to see before pulling the plug
CLIENTS = 8


class Cluster:
    """A throwaway PostgreSQL cluster (run as ``postgres`` when we are root: initdb and
    the server refuse root)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(root, owner.pw_uid, owner.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, timeout: float = 120) -> None:
        done = subprocess.run(
            [*self.prefix, *argv], capture_output=True, text=True, timeout=timeout, check=False
        )
        assert done.returncode == 0, f"{argv[0]} failed: {done.stdout}{done.stderr}"

    def init(self) -> None:
        self._run(
            str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
            " -c fsync=on -c synchronous_commit=on -c shared_buffers=32MB -c max_connections=60"
        )
        self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.root / "log"), "-w", "-t", "60", "start",
        )  # fmt: skip

    def crash(self) -> None:
        """Immediate shutdown: every backend killed, no checkpoint (recovery on start)."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")

    def stop(self) -> None:
        subprocess.run(
            [*self.prefix, str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )


@contextmanager
def _cluster() -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="vaxport-durability-"))
    c = Cluster(root)
    try:
        c.init()
        c.start()
        yield c
    finally:
        c.stop()
        shutil.rmtree(root, ignore_errors=True)


def _env(cluster: Cluster, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAXPORT_")}
    return env | {
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "VAXPORT_ENV": "test",
        "VAXPORT_DATABASE_URL": cluster.url,
        "VAXPORT_DATA_DIR": str(data_dir),
        "VAXPORT_COUNTRIES_DIR": str(ROOT / "countries"),
        "VAXPORT_LOG_LEVEL": "WARNING",
        "VAXPORT_RATE_LIMIT_ENABLED": "false",
        # A claim left by the killed process lapses quickly, so the retries may take it.
        "VAXPORT_IDEMPOTENCY_LOCK_SECONDS": "1",
    }


def _server(env: dict[str, str], tmp: Path, port: int) -> Server:
    argv = [sys.executable, "-m", "vaxport", "serve", "--host", "127.0.0.1"]
    return Server(
        name="vaxport serve",
        argv=[*argv, "--port", str(port)],
        env=env,
        cwd=ROOT,
        port=port,
        log_path=tmp / f"serve-{time.monotonic_ns()}.log",
        ready_path="/readyz",
    )


@dataclass
class Attempt:
    key: str
    body: dict[str, Any]
    status: int | None = None  # None: no answer (the crash)
    person: str | None = None


@dataclass
class Client:
    base_url: str
    headers: dict[str, str]
    attempts: list[Attempt] = field(default_factory=list)
    acked: int = 0
    enough: asyncio.Event = field(default_factory=asyncio.Event)  # ACKED_BEFORE_CRASH seen

    def new_attempt(self) -> Attempt:
        payload = f"{secrets.randbelow(10**9):09d}"
        body = {
            "given_name": f"Crash{len(self.attempts)}",
            "family_name": "Survivor",
            "sex": "female",
            "birth_date": "1980-05-17",
            "documents": [
                {"id_type": "national-id", "number": payload + luhn_check_digit(payload)}
            ],
            "region_code": "CEN-01-01",
        }
        attempt = Attempt(key=str(uuid.uuid4()), body=body)
        self.attempts.append(attempt)
        return attempt

    async def send(self, http: httpx.AsyncClient, attempt: Attempt) -> httpx.Response:
        headers = self.headers | {"Idempotency-Key": attempt.key}
        return await http.post(
            f"/api/v1/{REGISTER_TENANT}/beneficiaries", json=attempt.body, headers=headers
        )

    async def until_crash(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as http:
            while not stop.is_set():
                attempt = self.new_attempt()
                try:
                    answer = await self.send(http, attempt)
                except httpx.TransportError:
                    return  # the server is gone: this attempt's fate is unknown
                attempt.status = answer.status_code
                if answer.status_code == 201:
                    attempt.person = answer.json()["id"]
                    self.acked += 1
                    if self.acked >= ACKED_BEFORE_CRASH:
                        self.enough.set()


async def _run_until_crash(client: Client, crash: Any) -> None:
    stop = asyncio.Event()
    workers = [asyncio.create_task(client.until_crash(stop)) for _ in range(CLIENTS)]
    await asyncio.wait_for(client.enough.wait(), timeout=60)
    crash()  # while the workers' requests are in flight
    stop.set()
    await asyncio.wait_for(asyncio.gather(*workers), timeout=30)


async def _people_in_tenant(port: int) -> int:
    import asyncpg

    conn = await asyncpg.connect(host="127.0.0.1", port=port, user="postgres", database="postgres")
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM beneficiaries b JOIN tenants t ON t.id = b.tenant_id"
            " WHERE t.code = $1",
            REGISTER_TENANT,
        )
        return count
    finally:
        await conn.close()


@dataclass
class Outcome:
    """What the client saw before the crash and after the restart."""

    attempts: list[Attempt]
    retries: list[httpx.Response]
    reads: dict[str, int]  # person id acknowledged before the crash -> GET status after
    people_added: int  # rows in the tenant: after the retries minus before the first request


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory, key_file: Path) -> Iterator[Outcome]:
    """Registrations, a crash of the app and of PostgreSQL mid-run, restart, retries."""
    tmp_path = tmp_path_factory.mktemp("durability")
    with _cluster() as cluster:
        yield _crash_and_retry(cluster, tmp_path, key_file)


def _in_process_cli(env: dict[str, str]) -> Any:
    """``vaxport ...`` in this process (a Python start-up costs seconds on a busy
    machine), with the server's settings; the key file is the session's, as the
    server's is, so both wrap and unwrap with the same key."""

    def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
        with pytest.MonkeyPatch.context() as mp:
            for name, value in env.items():
                if name.startswith("VAXPORT_"):
                    mp.setenv(name, value)
            get_settings.cache_clear()
            try:
                done = CliRunner().invoke(cli_app, list(args))
            finally:
                get_settings.cache_clear()
        return subprocess.CompletedProcess(["vaxport", *args], done.exit_code, done.output, "")

    return run_cli


def _crash_and_retry(cluster: Cluster, tmp_path: Path, key_file: Path) -> Outcome:
    env = _env(cluster, tmp_path / "data") | {"VAXPORT_KEY_FILE": str(key_file)}
    run_cli = _in_process_cli(env)
    migrated = run_cli("db", "upgrade")
    assert migrated.returncode == 0, migrated.stdout[-2000:]
    port = free_port()
    server = _server(env, tmp_path, port)
    server.launch()
    try:
        server.wait_ready(timeout=90)
        prepared = prepare_registration(Target(server.base_url, ROOT, run_cli))
        before = asyncio.run(_people_in_tenant(cluster.port))
        client = Client(server.base_url, prepared.headers)

        def crash() -> None:
            os.killpg(server.pid, signal.SIGKILL)
            cluster.crash()

        asyncio.run(_run_until_crash(client, crash))
    finally:
        server.stop(grace=1)

    cluster.start()  # crash recovery
    server = _server(env, tmp_path, port)
    server.launch()
    try:
        server.wait_ready(timeout=90)
        time.sleep(1.1)  # the killed process' claims lapse (VAXPORT_IDEMPOTENCY_LOCK_SECONDS)

        async def retry_all() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
                return list(await asyncio.gather(*(client.send(http, a) for a in client.attempts)))

        retries = asyncio.run(retry_all())
        reads = {}
        with httpx.Client(base_url=server.base_url, headers=prepared.headers) as http:
            for a in client.attempts:
                if a.person is not None:
                    got = http.get(f"/api/v1/{REGISTER_TENANT}/beneficiaries/{a.person}")
                    reads[a.person] = got.status_code
    finally:
        server.stop()
    after = asyncio.run(_people_in_tenant(cluster.port))
    return Outcome(client.attempts, retries, reads, after - before)


def test_the_crash_caught_requests_in_flight_after_acknowledged_ones(crashed: Outcome) -> None:
    statuses = [a.status for a in crashed.attempts]
    assert statuses.count(201) >= ACKED_BEFORE_CRASH
    assert None in statuses  # requests without an answer: the crash hit mid-run
    assert set(statuses) <= {201, None}


def test_every_registration_acknowledged_before_the_crash_is_in_the_database(
    crashed: Outcome,
) -> None:
    acked = [a.person for a in crashed.attempts if a.status == 201]
    assert acked
    assert crashed.reads == dict.fromkeys(acked, 200)


def test_retries_after_the_crash_never_register_a_person_twice(crashed: Outcome) -> None:
    """One person per Idempotency-Key: a retry either answers with the key's person or
    (without a kept answer) meets the ID wall of the person its first attempt made."""
    people: set[str] = set()
    walled = 0  # first attempts that made a person the client never heard of
    for attempt, answer in zip(crashed.attempts, crashed.retries, strict=True):
        if answer.status_code == 201:
            if attempt.status == 201:
                assert answer.json()["id"] == attempt.person  # never a second person
            people.add(answer.json()["id"])
        else:
            assert answer.status_code == 409, answer.text
            assert answer.json()["type"].endswith("/already-registered")
            if attempt.person is None:
                walled += 1
        if attempt.person is not None:
            people.add(attempt.person)
    assert crashed.people_added == len(people) + walled
    assert crashed.people_added <= len(crashed.attempts)


def test_retries_after_the_crash_replay_the_answer_or_complete(crashed: Outcome) -> None:
    for attempt, answer in zip(crashed.attempts, crashed.retries, strict=True):
        assert answer.status_code == 201, (attempt.status, answer.status_code, answer.text)
        if attempt.status == 201:  # acknowledged before the crash: the same person, replayed
            assert answer.headers.get("idempotent-replayed") == "true"
            assert answer.json()["id"] == attempt.person
    assert crashed.people_added == len(crashed.attempts)
