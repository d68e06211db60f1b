"""Real ``vaxport serve`` processes: limits shared through Redis, TLS served directly."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import REDIS_URL, ROOT, requires_redis
from tests.core.http.ratelimit_support import closed_port, drop_keys, unique_prefix


def _serve(tmp_path: Path, port: int, *args: str, **env: str) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "VAXPORT_ENV": "test",
        "VAXPORT_DATA_DIR": str(tmp_path),
        "VAXPORT_REDIS_URL": "",
        "VAXPORT_LOG_LEVEL": "WARNING",
        "VAXPORT_COUNTRIES_DIR": str(ROOT / "countries"),
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "vaxport.cli", "serve", "--port", str(port), *args],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_listening(proc: subprocess.Popen[bytes], port: int, limit: float = 30.0) -> None:
    """Until the port accepts connections (uvicorn binds after the app has started)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise AssertionError(f"server exited with {proc.returncode}: {err[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError("server did not start listening")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stderr:
        proc.stderr.close()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[tuple[subprocess.Popen[bytes], int]]]:
    started: list[tuple[subprocess.Popen[bytes], int]] = []
    yield started
    for proc, _port in started:
        _stop(proc)


@requires_redis
async def test_two_processes_sharing_redis_enforce_one_limit(
    tmp_path: Path, servers: list[tuple[subprocess.Popen[bytes], int]]
) -> None:
    prefix = unique_prefix()
    env = {
        "VAXPORT_REDIS_URL": REDIS_URL,
        "VAXPORT_RATE_LIMIT_PREFIX": prefix,
        "VAXPORT_RATE_LIMIT_DEFAULT_IP": "4/minute",
    }
    for n in range(2):
        port = closed_port()
        data = tmp_path / f"p{n}"
        data.mkdir()
        servers.append((_serve(data, port, **env), port))
    try:
        for proc, port in servers:
            _wait_listening(proc, port)
        ports = [port for _proc, port in servers]
        async with httpx.AsyncClient() as c:
            answers = []
            for n in range(5):
                r = await c.get(f"http://127.0.0.1:{ports[n % 2]}/healthz")
                answers.append((r.status_code, r.headers.get("ratelimit-remaining")))
        assert answers == [(200, "3"), (200, "2"), (200, "1"), (200, "0"), (429, "0")]
    finally:
        await drop_keys(prefix)


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vaxport test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile = tmp_path / "cert.pem"
    keyfile = tmp_path / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certfile, keyfile


async def test_serve_speaks_tls_itself_with_hsts_and_no_server_header(
    tmp_path: Path, servers: list[tuple[subprocess.Popen[bytes], int]]
) -> None:
    certfile, keyfile = _self_signed(tmp_path)
    port = closed_port()
    args = ("--certfile", str(certfile), "--keyfile", str(keyfile))
    proc = _serve(tmp_path, port, *args, VAXPORT_FORCE_HTTPS="true")
    servers.append((proc, port))
    _wait_listening(proc, port)
    trust = ssl.create_default_context(cafile=str(certfile))
    async with httpx.AsyncClient(verify=trust) as c:
        r = await c.get(f"https://127.0.0.1:{port}/healthz")
        assert r.status_code == 200
        assert r.json()["status"] == "ok"
        assert "server" not in r.headers
        assert r.headers["strict-transport-security"].startswith("max-age=")
        # Over TLS the API is served (here: no such route), not refused as plain HTTP.
        r = await c.get(f"https://127.0.0.1:{port}/api/v1/nowhere/nothing")
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/problem+json"
    async with httpx.AsyncClient() as c:
        with pytest.raises(httpx.HTTPError):
            await c.get(f"http://127.0.0.1:{port}/healthz")
