"""A ``vaxport`` command-line runner on the test database, with the demo country loaded,
and :func:`run_command` for a test that runs on the event loop."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.tenancy.helpers import DEMO
from vaxport.cli import app
from vaxport.core.db import Database
from vaxport.settings import get_settings


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, clean_db: Database, tmp_path: Path) -> Iterator[CliRunner]:
    """Import this fixture into a test module; ``cli.invoke(app, [...])`` runs a command."""
    monkeypatch.setenv("VAXPORT_DATABASE_URL", clean_db.url)
    monkeypatch.setenv("VAXPORT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VAXPORT_REDIS_URL", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()
    loaded = runner.invoke(app, ["tenant", "load", str(DEMO)])
    assert loaded.exit_code == 0, loaded.output
    yield runner
    get_settings.cache_clear()


async def run_command(monkeypatch: pytest.MonkeyPatch, *args: str, **env: str) -> tuple[int, str]:
    """``vaxport *args`` run in this process with the variables ``env`` set: its exit code
    and its output (stdout and stderr), an uncaught exception's traceback included, as a
    ``vaxport`` process would print it.

    Run in a thread, as a command runs its own event loop. The same command as the
    console script's (``vaxport.cli.app``) without a process's ~3 s of imports.
    """
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        result = await asyncio.to_thread(CliRunner().invoke, app, list(args))
    finally:
        get_settings.cache_clear()
    output = result.output
    if result.exc_info is not None and not isinstance(result.exc_info[1], SystemExit):
        output += "".join(traceback.format_exception(*result.exc_info))
    return result.exit_code, output
