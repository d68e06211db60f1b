"""Migration 0004 up and down; the `vaxport keys` commands end to end on a SQLite file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import inspect
from typer.testing import CliRunner

from tests.support.parts import METADATA
from vaxport.core import migrate
from vaxport.core.db import Database


async def test_migration_0004_upgrades_and_downgrades(tmp_path: Path) -> None:
    from tests.conftest import PG_URL, _create_pg_database, _drop_pg_database

    url = await _create_pg_database(PG_URL) if PG_URL else f"sqlite+aiosqlite:///{tmp_path}/m.db"
    db = Database(url)
    try:
        await migrate.upgrade(db, "0004", metadata=METADATA)

        async def tables() -> set[str]:
            async with db.engine.connect() as conn:
                return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))

        assert {"data_keys", "subject_keys"} <= await tables()
        await migrate.downgrade(db, "-1")
        assert not {"data_keys", "subject_keys"} & await tables()
        await migrate.upgrade(db, "head", metadata=METADATA)
        assert {"data_keys", "subject_keys"} <= await tables()
    finally:
        await db.dispose()
        if PG_URL:
            await _drop_pg_database(url)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from vaxport.core.crypto import get_keyring, set_keyring
    from vaxport.settings import get_settings

    monkeypatch.setenv("VAXPORT_ENV", "development")
    monkeypatch.setenv("VAXPORT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VAXPORT_DATABASE_URL", raising=False)
    monkeypatch.delenv("VAXPORT_KEY_FILE", raising=False)
    previous = get_keyring()
    get_settings.cache_clear()
    set_keyring(None)
    yield tmp_path
    get_settings.cache_clear()
    set_keyring(previous)


def test_keys_commands(cli_env: Path) -> None:
    from vaxport.cli import app
    from vaxport.core.crypto import set_keyring

    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    out = runner.invoke(app, ["keys", "init"])
    assert out.exit_code == 0, out.output
    key_file = cli_env / "keys.json"
    assert key_file.stat().st_mode & 0o777 == 0o600
    again = runner.invoke(app, ["keys", "init"])
    assert again.exit_code == 1
    assert "already exists" in again.output

    tenant = "018f0000-0000-7000-8000-000000000001"
    out = runner.invoke(app, ["keys", "rotate", "--tenant", tenant])
    assert out.exit_code == 0, out.output
    assert "version 1 is active" in out.output
    out = runner.invoke(app, ["keys", "rotate", "--tenant", tenant])
    assert "version 2 is active" in out.output
    out = runner.invoke(app, ["keys", "reencrypt", "--tenant", tenant, "--batch", "10"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(app, ["keys", "status"])
    assert "data  v1   retiring" in out.output
    assert "data  v2   active" in out.output
    out = runner.invoke(app, ["keys", "rotate-kek"])
    assert out.exit_code == 0, out.output
    assert "2 data keys re-wrapped, done" in out.output
    out = runner.invoke(app, ["keys", "rotate", "--tenant", "no-such-code"])
    assert out.exit_code == 1
    assert "no tenant with code" in out.output

    os.chmod(key_file, 0o644)
    set_keyring(None)  # a new process reads the file again
    out = runner.invoke(app, ["keys", "status"])
    assert out.exit_code == 1
    assert "chmod 600" in out.output
