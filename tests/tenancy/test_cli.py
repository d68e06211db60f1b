"""``vaxport tenant load|validate|list|show|history`` against the test database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.tenancy.helpers import DEMO, demo_config, write_config
from vaxport.cli import app
from vaxport.core.db import Database
from vaxport.settings import get_settings


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, clean_db: Database, tmp_path: Path) -> Iterator[CliRunner]:
    # The commands read the process settings; point them at the test database. The
    # cache stays in-process so a shared Redis is never touched by these commands.
    monkeypatch.setenv("VAXPORT_DATABASE_URL", clean_db.url)
    monkeypatch.setenv("VAXPORT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("VAXPORT_REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_validate_reports_valid_and_invalid_files(cli: CliRunner, tmp_path: Path) -> None:
    ok = cli.invoke(app, ["tenant", "validate", str(DEMO)])
    assert ok.exit_code == 0, ok.output
    assert "valid (demo: 30 regions, 3 ID types, 4 vaccines)" in ok.stdout
    data = demo_config()
    data["colour"] = "blue"
    data["timezone"] = "Atlantis/Capital"
    bad = write_config(tmp_path / "bad.yaml", data)
    result = cli.invoke(app, ["tenant", "validate", str(bad)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{bad}: timezone: 'Atlantis/Capital' is not an IANA time zone")
    assert lines[1].startswith(f"{bad}: colour: unknown field (line ")


def test_load_list_show_history(cli: CliRunner, tmp_path: Path) -> None:
    first = cli.invoke(app, ["tenant", "load", str(DEMO)])
    assert first.exit_code == 0, first.output
    assert "demo: version 1 (created; regions +30 ~0 -0)" in first.stdout
    again = cli.invoke(app, ["tenant", "load", str(DEMO)])
    assert "demo: unchanged (version 1)" in again.stdout

    data = demo_config()
    data["booking"]["days_ahead"] = 10
    v2 = cli.invoke(app, ["tenant", "load", str(write_config(tmp_path / "v2.yaml", data))])
    assert "demo: version 2 (updated; regions +0 ~0 -0)" in v2.stdout

    listed = cli.invoke(app, ["tenant", "list"])
    assert listed.stdout.strip().splitlines() == ["demo\tDemoland\ten\ten,fr"]

    shown = cli.invoke(app, ["tenant", "show", "demo"])
    assert shown.exit_code == 0
    assert "demo: Demoland\nversion 2, hash " in shown.stdout
    assert "regions 30 (Province > District > Municipality)" in shown.stdout
    as_json = cli.invoke(app, ["tenant", "show", "demo", "--json"])
    assert json.loads(as_json.stdout)["booking"]["days_ahead"] == 10

    history = cli.invoke(app, ["tenant", "history", "demo"]).stdout.strip().splitlines()
    assert [line.split("\t")[0] for line in history] == ["2", "1"]
    assert history[0].endswith("v2.yaml")


def test_a_bad_load_exits_1_with_the_problems_and_changes_nothing(
    cli: CliRunner, tmp_path: Path
) -> None:
    cli.invoke(app, ["tenant", "load", str(DEMO)])
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEMO.read_text().replace("slot_minutes: 10", "slot_minutes: -5"))
    result = cli.invoke(app, ["tenant", "load", str(bad)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{bad}: booking.slot_minutes: Input should be greater")
    history = cli.invoke(app, ["tenant", "history", "demo"]).stdout.strip().splitlines()
    assert len(history) == 1


def test_unknown_tenant_exits_1(cli: CliRunner) -> None:
    for command in (["show", "atlantis"], ["history", "atlantis"]):
        result = cli.invoke(app, ["tenant", *command])
        assert result.exit_code == 1
        assert result.stderr.strip() == "atlantis: unknown tenant"
    assert cli.invoke(app, ["tenant", "list"]).stdout.strip() == "no tenants loaded"
