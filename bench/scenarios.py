"""The scenario registry: one entry per measured request.

A later context adds its load by appending to ``SCENARIOS`` here (register, facilities,
booking...): a name, the request (method, path, body or a Lua script of its own), and
an optional ``setup`` that prepares data through the ``vaxport`` CLI or the HTTP API
before the first request and may fill ``{placeholders}`` in the path and add headers.

A ``setup`` that cannot prepare its scenario raises :class:`ScenarioUnavailable` with a
message an operator can act on; the bench reports it and measures the others.
"""

from __future__ import annotations

import dataclasses
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench import booking, certificates, doses, staffing


class ScenarioUnavailable(Exception):  # noqa: N818 - a state, reported, not a crash
    """This scenario cannot run against this build or data; the message says why."""


@dataclass(frozen=True)
class Prepared:
    """What a setup hands to the measurement."""

    params: dict[str, str] = field(default_factory=dict)  # fills {placeholders} in the path
    headers: dict[str, str] = field(default_factory=dict)  # e.g. Authorization
    env: dict[str, str] = field(default_factory=dict)  # read by a scenario's own Lua script
    body: str | None = None  # replaces the scenario's body (data only the setup can make)


@dataclass
class Target:
    """The server under test, as a setup sees it."""

    base_url: str
    repo_root: Path
    run_cli: Callable[..., subprocess.CompletedProcess[str]]
    prefill: int = 0  # rows a setup adds before measuring (e.g. people for `register`)
    env: dict[str, str] = field(default_factory=dict)  # the server's (a setup's scripts run in it)
    _migrated: bool = False

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``vaxport <args>`` against the server's database and settings."""
        return self.run_cli(*args)

    def migrate(self) -> None:
        """``vaxport db upgrade`` once per bench run."""
        if self._migrated:
            return
        done = self.cli("db", "upgrade")
        if done.returncode != 0:
            raise ScenarioUnavailable(f"`vaxport db upgrade` failed:\n{_tail(done)}")
        self._migrated = True


Setup = Callable[[Target], Prepared]


@dataclass(frozen=True)
class Scenario:
    """One measured request and how to prepare for it."""

    name: str
    method: str
    path: str
    description: str
    body: str | None = None
    content_type: str = "application/json"
    lua: str = "static.lua"  # a script in bench/lua; custom ones vary the request
    setup: Setup | None = None
    probe: bool = True  # send the request once (expecting 2xx) before measuring
    missing_hint: str = ""  # what a 404 from the probe means
    versus: str | None = None  # another scenario (same method) to report a ratio against
    pgbench: bool = False  # replay one request's statements with pgbench (PostgreSQL)
    # At most this many connections (a heavy request, e.g. a batch: more in flight only
    # queue, finish after the run and weigh on the next one).
    connections: int | None = None

    @property
    def label(self) -> str:
        return f"{self.name} {self.method}"

    @property
    def ceiling_method(self) -> str:
        """The no-op this scenario is compared with: GET for reads, POST for writes."""
        return "GET" if self.method in ("GET", "HEAD", "OPTIONS") else "POST"


NOOP_BODY = '{"ping":true}'


def load_demo_tenant(target: Target) -> Prepared:
    """Migrate, then ``vaxport tenant load countries/demo.yaml``; the path gets its code."""
    target.migrate()
    path = target.repo_root / "countries" / "demo.yaml"
    if not path.is_file():
        raise ScenarioUnavailable(
            f"{path} does not exist: the demo country comes with the tenancy context"
        )
    done = target.cli("tenant", "load", str(path))
    if done.returncode != 0:
        if "No such command" in done.stderr or "No such command" in done.stdout:
            raise ScenarioUnavailable(
                "`vaxport tenant load` is not in this build: the tenancy context has not landed"
            )
        raise ScenarioUnavailable(f"`vaxport tenant load {path}` failed:\n{_tail(done)}")
    return Prepared(params={"tenant": tenant_code(path)})


def tenant_code(path: Path) -> str:
    """The tenant code a country file declares (``code:``), else its file name."""
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    code = data.get("code") if isinstance(data, dict) else None
    return code if isinstance(code, str) and code else path.stem


DIRECTORY_TENANT = "demodir"
# 64 points on the 0.01-degree grid the finder page rounds positions to; see the script.
DIRECTORY_LUA = "facilities_directory.lua"


def load_directory_tenant(target: Target) -> Prepared:
    """A copy of the demo country with its 300 centres, for the public directory.

    Public searches are rate-limited per client address (300/minute by default), and
    wrk is one address standing for a crowd: this tenant's configuration lifts that
    limit, as a country serving its directory through a CDN would. The server only
    sees a new tenant's limits at its next refresh (``VAXPORT_CONFIG_CACHE_SECONDS``),
    so the setup waits until answers stop carrying the default limit.
    """
    target.migrate()
    staffing.load_tenant_copy(target, DIRECTORY_TENANT, ("public_search",))
    centres = target.repo_root / "countries" / "demo-facilities.csv"
    done = target.cli("facility", "import", str(centres), "--tenant", DIRECTORY_TENANT, "-q")
    if "No such command" in (done.stderr or "") + (done.stdout or ""):
        raise ScenarioUnavailable("`vaxport facility` is not in this build")
    if done.returncode != 0:
        raise ScenarioUnavailable(f"`vaxport facility import` failed:\n{_tail(done)}")
    url = f"{target.base_url}/api/v1/{DIRECTORY_TENANT}/facilities?lat=48.40&lon=-79.60"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        answer = httpx.get(url, timeout=10)
        if answer.is_success and "ratelimit-limit" not in answer.headers:
            return Prepared(
                params={"tenant": DIRECTORY_TENANT}, env={"VAXPORT_BENCH_TENANT": DIRECTORY_TENANT}
            )
        time.sleep(2)
    raise ScenarioUnavailable("the server never applied the tenant's rate-limit override")


_BENCH_PASSWORD = "bench harness passphrase 2718"


def staff_with_token(target: Target) -> Prepared:
    """An analyst (no second factor) of the demo tenant with an encrypted name, e-mail
    and phone, logged in: the path gets the tenant and account id, the request its token.

    Access tokens live 15 minutes: a bench run of these scenarios must stay shorter.
    """
    prepared = load_demo_tenant(target)
    tenant = prepared.params["tenant"]
    username = f"bench.{uuid.uuid4().hex[:8]}"
    done = target.cli(
        "user", "create", "--tenant", tenant, "--username", username, "--role", "analyst",
        "--email", f"{username}@bench.example.org", "--name", "Bench Analyst Quarshie",
    )  # fmt: skip
    if done.returncode != 0:
        raise ScenarioUnavailable(f"`vaxport user create` failed:\n{_tail(done)}")
    token = done.stdout.strip().splitlines()[-1].split("token=")[-1]
    api = f"{target.base_url}/api/v1/{tenant}"
    with httpx.Client(timeout=30) as client:
        client.post(f"{api}/auth/activate", json={"token": token, "password": _BENCH_PASSWORD})
        login = client.post(
            f"{api}/auth/login", json={"username": username, "password": _BENCH_PASSWORD}
        )
        if login.status_code != 200 or "access_token" not in login.json():
            raise ScenarioUnavailable(f"staff login failed: {login.status_code} {login.text}")
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        me = client.patch(f"{api}/me", json={"phone": "+1 613 555 0100"}, headers=auth)
        if me.status_code != 200:
            raise ScenarioUnavailable(f"PATCH /me failed: {me.status_code} {me.text}")
    return Prepared(params={"tenant": tenant, "account_id": me.json()["id"]}, headers=auth)


REGISTER_TENANT = "demoreg"
REGISTER_LUA = "register.lua"


def _ok(answer: httpx.Response, step: str) -> dict[str, Any]:
    if not answer.is_success:
        raise ScenarioUnavailable(f"{step} answered {answer.status_code}: {answer.text[:300]}")
    body: dict[str, Any] = answer.json()
    return body


def prepare_registration(target: Target) -> Prepared:
    """A copy of the demo country whose write limits are lifted, and a national admin.

    wrk is one client and one account standing for many staff, so the tenant lifts the
    ``write`` rate limits. The admin is created with ``vaxport user create``, activated
    and enrolled in TOTP through the API; its access token signs every request.
    """
    target.migrate()
    staffing.load_tenant_copy(target, REGISTER_TENANT, ("write",))
    headers = staffing.staff_headers(target, REGISTER_TENANT, role="national_admin", prefix="bench")
    url = f"{target.base_url}/api/v1/{REGISTER_TENANT}/beneficiaries"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until the server applies the tenant's limits
        answer = httpx.post(url, json=_probe_person(), headers=headers, timeout=10)
        if answer.is_success and "ratelimit-limit" not in answer.headers:
            prefill_people(url, headers, target.prefill)
            return Prepared(
                params={"tenant": REGISTER_TENANT},
                headers=headers,
                env={"VAXPORT_BENCH_TENANT": REGISTER_TENANT},
            )
        if answer.status_code not in (201, 429):
            raise ScenarioUnavailable(
                f"registration answered {answer.status_code}: {answer.text[:300]}"
            )
        time.sleep(2)
    raise ScenarioUnavailable("the server never applied the tenant's rate-limit override")


def prepare_idempotent_registration(target: Target) -> Prepared:
    """:func:`prepare_registration`, every request then carrying an Idempotency-Key of
    its own (``register.lua`` adds one when ``VAXPORT_BENCH_IDEMPOTENCY`` is set)."""
    prepared = prepare_registration(target)
    return dataclasses.replace(prepared, env={**prepared.env, "VAXPORT_BENCH_IDEMPOTENCY": "1"})


def prefill_people(url: str, headers: dict[str, str], count: int, *, parallel: int = 8) -> None:
    """Register ``count`` people in the region the script registers in, before measuring:
    the look-alike lookup then meets a populated region, and the bench ANALYZEs after
    the setups so the planner knows it (a never-analysed table gets an empty table's plan).
    """
    if count <= 0:
        return
    from concurrent.futures import ThreadPoolExecutor

    def one(_: int) -> int:
        person = _probe_person() | {"region_code": "CEN-01-01", "given_name": "Prefill"}
        with httpx.Client(timeout=30) as client:
            return client.post(url, json=person, headers=headers).status_code

    with ThreadPoolExecutor(parallel) as pool:
        statuses = list(pool.map(one, range(count)))
    failed = [s for s in statuses if s != 201]
    if len(failed) > count // 100:
        raise ScenarioUnavailable(f"prefill: {len(failed)} of {count} registrations failed")


def _probe_person() -> dict[str, Any]:
    """A valid person with a random Luhn-valid national ID (the setup's own requests)."""
    import secrets

    from vaxport.tenancy.checksums import luhn_check_digit

    payload = f"{secrets.randbelow(10**9):09d}"
    return {
        "given_name": "Probe",
        "sex": "unknown",
        "birth_date": "1970-01-01",
        "documents": [{"id_type": "national-id", "number": payload + luhn_check_digit(payload)}],
        "region_code": "CEN-01-02",
    }


SEARCH_TENANT = "demoslots"
SEARCH_LUA = "slot_search.lua"
SEARCH_DAYS = 7


def prepare_slot_search(target: Target) -> Prepared:
    """A copy of the demo country with its 300 centres, each with a week of open sessions.

    As for the directory, the tenant lifts the public-search rate limit (wrk is one
    address standing for a crowd) and the setup waits until the server applies it.
    Sessions are written straight to the tables by ``bench/search_sessions.py`` (with the
    server's environment): what is measured is the search, not publishing.
    """
    target.migrate()
    staffing.load_tenant_copy(target, SEARCH_TENANT, ("public_search",))
    centres = target.repo_root / "countries" / "demo-facilities.csv"
    done = target.cli("facility", "import", str(centres), "--tenant", SEARCH_TENANT, "-q")
    if done.returncode != 0:
        raise ScenarioUnavailable(f"`vaxport facility import` failed:\n{_tail(done)}")
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "bench.search_sessions", SEARCH_TENANT, str(SEARCH_DAYS)],
        cwd=target.repo_root,
        env=target.env or None,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise ScenarioUnavailable(f"writing the sessions failed:\n{_tail(done)}")
    url = f"{target.base_url}/api/v1/{SEARCH_TENANT}/slots?region=NOR"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        answer = httpx.get(url, timeout=10)
        if answer.status_code == 404:
            raise ScenarioUnavailable("the scheduling context's GET /slots is not in this build")
        if answer.is_success and "ratelimit-limit" not in answer.headers:
            if not answer.json()["items"]:
                raise ScenarioUnavailable("the search finds none of the sessions written")
            return Prepared(
                params={"tenant": SEARCH_TENANT}, env={"VAXPORT_BENCH_TENANT": SEARCH_TENANT}
            )
        time.sleep(2)
    raise ScenarioUnavailable("the server never applied the tenant's rate-limit override")


def prepare_verify(target: Target) -> Prepared:
    """The demo tenant trusts a fresh DSC; the body is an HC1 signed by it (see
    ``bench/certificates.py``). The server lifts the verification rate limit
    (``server_env``): wrk is one address standing for many verifiers."""
    prepared = load_demo_tenant(target)

    def import_dsc(path: Path) -> None:
        done = target.cli("trust", "import", str(path), "--tenant", prepared.params["tenant"])
        if "No such command" in (done.stderr or "") + (done.stdout or ""):
            raise ScenarioUnavailable("`vaxport trust` is not in this build")
        if done.returncode != 0:
            raise ScenarioUnavailable(f"`vaxport trust import` failed:\n{_tail(done)}")

    return Prepared(body=certificates.trusted_body(import_dsc))


SCENARIOS: list[Scenario] = [
    Scenario(
        name="noop",
        method="GET",
        path="/bench/noop",
        description="GET through the full production stack doing nothing (noise check: ~1.0)",
    ),
    Scenario(
        name="noop",
        method="POST",
        path="/bench/noop",
        body=NOOP_BODY,
        description="POST with a small JSON body through the production stack, doing nothing",
    ),
    Scenario(
        name="config",
        method="GET",
        path="/api/v1/{tenant}/config",
        setup=load_demo_tenant,
        description="the demo tenant's public configuration (cached read)",
        missing_hint="the tenancy context's GET /api/v1/{tenant}/config route is not in this build",
    ),
    Scenario(
        name="facilities",
        method="GET",
        path="/api/v1/{tenant}/facilities?lat=48.40&lon=-79.60",
        lua=DIRECTORY_LUA,
        setup=load_directory_tenant,
        description="public directory, nearest centres to 64 points in turn (cached)",
        missing_hint="the facilities context's directory route is not in this build",
    ),
    Scenario(
        name="noop-auth",
        method="GET",
        path="/bench/{tenant}/noop/auth",
        setup=staff_with_token,
        versus="noop",
        description="the GET no-op behind a staff bearer token (verification + permission)",
        missing_hint="identity's bench routes are not in this build",
    ),
    Scenario(
        name="read-encrypted",
        method="GET",
        path="/bench/{tenant}/accounts/{account_id}/encrypted",
        setup=staff_with_token,
        versus="read-plain",
        description="one account row, 3 encrypted fields (name, e-mail, phone) decrypted",
        missing_hint="identity's bench routes are not in this build",
    ),
    Scenario(
        name="read-plain",
        method="GET",
        path="/bench/{tenant}/accounts/{account_id}/plain",
        setup=staff_with_token,
        description="the same account row, 3 plain columns (username, role, region)",
        missing_hint="identity's bench routes are not in this build",
    ),
    Scenario(
        name="register",
        method="POST",
        path="/api/v1/{tenant}/beneficiaries",
        lua=REGISTER_LUA,
        setup=prepare_registration,
        probe=False,  # every request registers a different person
        pgbench=True,
        description="staff register a new person (encryption, blind indexes, audit, outbox)",
        missing_hint="the registration context's beneficiaries route is not in this build",
    ),
    Scenario(
        name="register-idem",
        method="POST",
        path="/api/v1/{tenant}/beneficiaries",
        lua=REGISTER_LUA,
        setup=prepare_idempotent_registration,
        probe=False,
        description="register, each request with an Idempotency-Key of its own (kept answer)",
        missing_hint="the registration context's beneficiaries route is not in this build",
    ),
    Scenario(
        name="book",
        method="POST",
        path="/api/v1/{tenant}/appointments",
        lua="book.lua",
        setup=booking.prepare_hot,
        probe=False,  # every request books a different person
        versus="book-spread",
        description="staff book a seat for a new person each time, all on 10 hot slots",
        missing_hint="the scheduling context's appointments route is not in this build",
    ),
    Scenario(
        name="book-spread",
        method="POST",
        path="/api/v1/{tenant}/appointments",
        lua="book.lua",
        setup=booking.prepare_spread,
        probe=False,
        description="the same bookings spread over 1,000 slots (no row shared by two at once)",
        missing_hint="the scheduling context's appointments route is not in this build",
    ),
    Scenario(
        name="record_dose",
        method="POST",
        path="/api/v1/{tenant}/doses",
        lua="dose.lua",
        setup=doses.prepare,
        probe=False,  # every request records a dose for a different person
        description="a vaccinator records a dose (reach, lot, schedule engine, vaccinated_at, "
        "audit, outbox, Idempotency-Key)",
        missing_hint="the immunization context's doses route is not in this build",
    ),
    Scenario(
        name="record_dose-appt",
        method="POST",
        path="/api/v1/{tenant}/doses",
        lua="dose.lua",
        setup=doses.prepare_appointments,
        probe=False,
        versus="record_dose",
        description="record_dose, each dose completing the person's appointment of today",
        missing_hint="the immunization context's doses route is not in this build",
    ),
    Scenario(
        name="sync",
        method="POST",
        path="/api/v1/{tenant}/sync/batches",
        lua="sync.lua",
        setup=doses.prepare_sync,
        probe=False,  # every request records doses for other people
        connections=4,  # 4 devices at once: 200 records in flight
        description="an offline device uploads 50 dose records for new people (each "
        "answered alone: checks, vaccinated_at, audit, outbox, client UUIDs)",
        missing_hint="the immunization context's sync route is not in this build",
    ),
    Scenario(
        name="aefi",
        method="POST",
        path="/api/v1/{tenant}/aefi",
        lua="aefi.lua",
        setup=doses.prepare_aefi,
        probe=False,
        description="a vaccinator reports a non-serious adverse event after a dose "
        "(the dose in reach, coded symptoms, audit)",
        missing_hint="the immunization context's AEFI route is not in this build",
    ),
    Scenario(
        name="search",
        method="GET",
        path="/api/v1/{tenant}/slots?region=NOR&limit=20",
        lua=SEARCH_LUA,
        setup=prepare_slot_search,
        description="public slot search, 60 region/age searches in turn (cached, two tiers)",
        missing_hint="the scheduling context's GET /api/v1/{tenant}/slots is not in this build",
    ),
    Scenario(
        name="verify",
        method="POST",
        path="/api/v1/verify",
        body="{}",
        setup=prepare_verify,
        description="public verification of an HC1 string (COSE ES256, schema, value sets)",
        missing_hint="the certificates context's POST /api/v1/verify is not in this build",
    ),
]


def names() -> list[str]:
    """Scenario names in registry order, each once."""
    return list(dict.fromkeys(s.name for s in SCENARIOS))


def select(wanted: list[str] | None) -> list[Scenario]:
    """The scenarios named (all of them for ``None``); unknown names are an error."""
    if not wanted:
        return list(SCENARIOS)
    unknown = [w for w in wanted if w not in names()]
    if unknown:
        raise ValueError(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(names())}")
    return [s for s in SCENARIOS if s.name in wanted]


def _tail(done: subprocess.CompletedProcess[str], lines: int = 15) -> str:
    text = (done.stderr or "") + (done.stdout or "")
    return "\n".join(text.strip().splitlines()[-lines:])
