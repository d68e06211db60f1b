"""What the write scenarios' setups share: a copy of the demo country with rate limits
lifted, a member of staff enrolled in TOTP and logged in, and a prefill run as a program
in the server's environment.

wrk is one address and one account standing for a crowd, so each scenario's tenant
lifts the limits its requests would meet; the token signs every request.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def load_tenant_copy(target: Any, code: str, lifted: tuple[str, ...]) -> None:
    """``countries/demo.yaml`` loaded as tenant ``code``, its ``lifted`` limits unlimited."""
    import yaml

    from bench.scenarios import ScenarioUnavailable, _tail

    data: Any = yaml.safe_load((target.repo_root / "countries" / "demo.yaml").read_text())
    data["code"] = code
    data["rate_limits"] = {name: {"ip": "unlimited", "account": "unlimited"} for name in lifted}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{code}.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
        done = target.cli("tenant", "load", str(path))
    if done.returncode != 0:
        raise ScenarioUnavailable(f"`vaxport tenant load` failed:\n{_tail(done)}")


def staff_headers(
    target: Any, tenant: str, *, role: str, prefix: str, facility: str | None = None
) -> dict[str, str]:
    """A new member of staff (``role``, at ``facility`` when given), activated, enrolled in
    TOTP and logged in through the API: the bearer header of their access token."""
    import httpx

    from bench.scenarios import _BENCH_PASSWORD, ScenarioUnavailable, _ok, _tail
    from vaxport.core.clock import utcnow
    from vaxport.identity.login import totp

    username = f"{prefix}{int(time.time())}"
    args = ["user", "create", "--tenant", tenant, "--username", username, "--role", role]
    done = target.cli(*args, *(["--facility", facility] if facility else []))
    if done.returncode != 0 or "token=" not in done.stdout:
        raise ScenarioUnavailable(f"`vaxport user create` failed:\n{_tail(done)}")
    token = done.stdout.rsplit("token=", 1)[1].split()[0]
    auth = f"{target.base_url}/api/v1/{tenant}/auth"
    with httpx.Client(timeout=30) as client:
        step = _ok(
            client.post(auth + "/activate", json={"token": token, "password": _BENCH_PASSWORD}),
            "activation",
        )
        secret = _ok(client.post(auth + "/enrolment", json={"ticket": step["ticket"]}), "enrolment")
        code = totp.code_at(secret["secret"], utcnow())
        login = _ok(
            client.post(auth + "/enrolment/confirm", json={"ticket": step["ticket"], "code": code}),
            "enrolment confirmation",
        )
    return {"Authorization": f"Bearer {login['access_token']}"}


def run_fill(target: Any, module: str, *args: str) -> dict[str, Any]:
    """``python -m <module> fill --out DIR <args>`` in the server's environment; the
    ``made.json`` it wrote in DIR."""
    from bench.scenarios import ScenarioUnavailable, _tail

    out = Path(tempfile.mkdtemp(prefix=f"vaxport-{module.replace('.', '-')}-"))
    done = subprocess.run(
        [sys.executable, "-m", module, "fill", "--out", str(out), *args],
        cwd=target.repo_root, env=target.env, capture_output=True, text=True, check=False,
        timeout=1800,
    )  # fmt: skip
    if done.returncode != 0:
        raise ScenarioUnavailable(f"{module} prefill failed:\n{_tail(done)}")
    made: dict[str, Any] = json.loads((out / "made.json").read_text())
    return made
