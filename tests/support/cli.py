"""A ``vaxport`` command-line runner on the test database, with the demo country loaded."""

from __future__ import annotations

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
