"""schemathesis against the app's own OpenAPI document, two facility managers as peers.

The app is served for real (uvicorn in the test's event loop, so it keeps the test's
database) and schemathesis' CLI runs against it in a subprocess, with both managers'
tokens in a Web Fuzzing Commons auth file and declared ``peers``: every phase
(examples, coverage, fuzzing, stateful along the OpenAPI links) must find no server
error and no object-level authorization leak (an object one manager reads that the other
may not, served to the other). Examples are capped so that it stays well under a minute
and a half on either leg.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.security.serve import serving
from tests.security.world import World
from vaxport.settings import Settings

MAX_EXAMPLES = 6
MAX_STEPS = 6
TIME_BUDGET_S = 80  # (--max-time would make fuzzing repeat until spent)
# Requests that would end or change the peers' own credentials mid-run.
SPARED = r"/auth/(logout|reauthenticate)$|/me/(password|totp)"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Rate limits would only turn generated traffic into 429s: not what is tested here."""
    return settings.model_copy(update={"rate_limit_enabled": False})


async def _peers(world: World) -> dict[str, str]:
    tokens = {}
    for name in ("manager_a", "manager_b"):
        facility = await world.facility()
        person = await world.staff("facility_manager", facility_id=facility)
        tokens[name] = str((await world.login(person))["access_token"])
    return tokens


def _write_config(tmp: Path, tenant: str, tokens: dict[str, str]) -> Path:
    wfc = {
        "auth": [
            {"name": name, "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {token}"}]}
            for name, token in tokens.items()
        ]
    }
    (tmp / "wfc.json").write_text(json.dumps(wfc))
    config = tmp / "schemathesis.toml"
    config.write_text(
        f"""
[generation]
max-examples = {MAX_EXAMPLES}

[phases.stateful]
max-steps = {MAX_STEPS}

[parameters]
tenant = "{tenant}"

[auth.wfc]
path = "{tmp / "wfc.json"}"
peers = {json.dumps(list(tokens))}
"""
    )
    return config


async def test_schemathesis_finds_no_server_error_and_no_object_level_leak(
    app: Any, world: World, tmp_path: Path
) -> None:
    config = _write_config(tmp_path, world.tenant.code, await _peers(world))
    report = tmp_path / "report.json"
    async with serving(app) as base_url:
        st = Path(sys.executable).with_name("schemathesis")
        proc = await asyncio.create_subprocess_exec(
            *(str(st), "--config-file", str(config), "run"),
            f"{base_url}/api/openapi.json",
            *("--checks", "not_a_server_error,object_level_authorization"),
            *("--phases", "examples,coverage,fuzzing,stateful"),
            *("--exclude-path-regex", SPARED),
            *("--workers", "1", "--seed", "20261127", "--no-shrink"),
            *("--request-timeout", "20"),
            *("--report", "json", "--report-json-path", str(report)),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=tmp_path,  # its cache directory (.schemathesis/) stays out of the checkout
        )
        out, _ = await asyncio.wait_for(proc.communicate(), TIME_BUDGET_S + 60)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-6000:]
    summary = _summary(report)
    assert summary["test_cases"]["generated"] >= 500, summary["test_cases"]
    assert summary["operations"]["tested"] >= 30, summary["operations"]
    assert summary["phases"]["stateful"]["status"] == "success", summary["phases"]
    print(text[-1500:])  # operations, phases and examples run, in the test's output


def _summary(report: Path) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(report.read_text())
    return summary
