"""Fixtures: loopback HTTP and SMTP peers, a shared HTTP pool, a TLS certificate."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.notifications.peers import (
    HttpPeer,
    Mailbox,
    RunningHttpPeer,
    TlsFiles,
    make_tls_files,
    start_smtp,
)
from vaxport.core.db import Database
from vaxport.identity.credentials import signing
from vaxport.notifications.channels.http import HttpPool
from vaxport.notifications.runtime import close_channels
from vaxport.settings import Settings


@pytest.fixture(scope="module")
async def _http_server() -> AsyncIterator[RunningHttpPeer]:
    running = RunningHttpPeer(HttpPeer())
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def http_peer(_http_server: RunningHttpPeer) -> AsyncIterator[RunningHttpPeer]:
    """The loopback HTTP peer, with an empty record and script for each test."""
    _http_server.peer.reset()
    yield _http_server
    _http_server.peer.release.set()


@pytest.fixture
async def pool() -> AsyncIterator[HttpPool]:
    p = HttpPool(trust_env=False)  # loopback peers: never via a proxy from the environment
    yield p
    await p.aclose()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def _plain_smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    controller = start_smtp(mailbox)
    yield mailbox, controller.port
    controller.stop()


@pytest.fixture
def smtp_server(_plain_smtp: tuple[Mailbox, int]) -> tuple[Mailbox, int]:
    """A plain SMTP server on loopback: (mailbox, port)."""
    _plain_smtp[0].reset()
    return _plain_smtp


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    from tests.notifications.peers import free_port

    return free_port()


@pytest.fixture
def outbox_path(tmp_path: Path) -> Path:
    return tmp_path / "console-outbox.jsonl"


@pytest.fixture
def fast(settings: Settings) -> Settings:
    """Settings with short backoff and few attempts, so retries happen within a test."""
    return settings.model_copy(
        update={
            "outbox_max_attempts": 3,
            "outbox_backoff_base_seconds": 0.01,
            "outbox_backoff_max_seconds": 0.05,
            "outbox_lease_seconds": 10.0,
            "outbox_batch_size": 50,
        }
    )


@pytest.fixture
async def dispatch_env(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Provider secrets in the environment; the process's channels closed after the test."""
    monkeypatch.setenv("TEST_TWILIO_TOKEN", "twilio-secret")
    monkeypatch.setenv("TEST_GATEWAY_SECRET", "gateway-secret")
    yield
    await close_channels()


@pytest.fixture(autouse=True)
def _fresh_signing_keys(db: Database) -> None:
    """Tests empty the tables: staff tokens must not be signed with a key remembered from
    an earlier test (identity keeps its signing key in memory)."""
    signing.forget(db)
