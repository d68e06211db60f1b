"""No personal data reaches the log output, whatever path it takes there."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
import structlog

from vaxport.core import scrub
from vaxport.core.ids import uuid7
from vaxport.core.logging import configure_logging, request_id_var

EMAIL = "zawadi.mwangi@example.org"
PHONE_E164 = "+254712345678"
PHONE_NATIONAL = "0712 345 678"
PHONE_PARENS = "(020) 7946 0958"
NATIONAL_ID = "KE12345678"
GIVEN, FAMILY = "Zawadi", "Mwangi"
BIRTH_DATE = "1990-04-17"
ADDRESS = "12 Moi Avenue"
OTP = "483920"
PASSWORD = "hunter2-Pa55"
JWT = (
    "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIwMTkwYTNiMiIsInJvbGUiOiJjaXRpemVuIn0"
    ".MEUCIQDx3r2k9Hc8v_Zq1Pj-8wLk"
)
COOKIE = "sid=7f3a9c2e41b8d6f0a5c3"
PERSONAL = [
    EMAIL,
    PHONE_E164,
    "712345678",
    PHONE_NATIONAL,
    "7946 0958",
    NATIONAL_ID,
    GIVEN,
    FAMILY,
    BIRTH_DATE,
    ADDRESS,
    OTP,
    PASSWORD,
    JWT,
    COOKIE,
    "7f3a9c2e41b8d6f0a5c3",
]


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(level="DEBUG", json=True, stream=stream)
    scrub.register_pattern(r"^KE\d{8}$")  # what a tenant's ID type would register
    yield stream
    scrub.clear_registered_patterns()
    configure_logging(level="INFO", json=True)


def _flows() -> None:
    log = structlog.get_logger("test.scrub")
    log.debug(
        "registered",
        email=EMAIL,
        phone=PHONE_E164,
        given_name=GIVEN,
        family_name=FAMILY,
        birth_date=BIRTH_DATE,
        id_number=NATIONAL_ID,
        password=PASSWORD,
        person={"guardian": {"contact_phone": PHONE_NATIONAL, "address": ADDRESS}},
        headers={"Authorization": f"Bearer {JWT}", "Cookie": COOKIE},
        members=[{"name": f"{GIVEN} {FAMILY}", "dob": BIRTH_DATE}],
    )
    log.info(f"sending code {OTP} to {EMAIL} and {PHONE_E164}")
    log.info("otp.sent", detail=f"OTP: {OTP} for id {NATIONAL_ID}, call {PHONE_PARENS}")
    log.info("request", raw=f"Authorization: Bearer {JWT}\r\nCookie: {COOKIE}")
    log.info("lookup", query=f"phone={PHONE_NATIONAL.replace(' ', '')}&name='{GIVEN} {FAMILY}'")
    try:
        raise ValueError(f"no match for {EMAIL} / {PHONE_E164} / {NATIONAL_ID}")
    except ValueError:
        log.exception("match.failed")
    try:
        try:
            raise KeyError({"email": EMAIL, "password": PASSWORD, "token": JWT})
        except KeyError as inner:
            raise RuntimeError(f"login failed: code={OTP}") from inner
    except RuntimeError:
        log.error("login.failed", exc_info=True)
    stdlib = logging.getLogger("test.stdlib")
    stdlib.debug("citizen %s phone %s", EMAIL, PHONE_NATIONAL)
    stdlib.warning("headers %r", [(b"authorization", f"Bearer {JWT}".encode())])
    try:
        raise LookupError(f"given_name={GIVEN!r} family_name={FAMILY!r} id {NATIONAL_ID}")
    except LookupError:
        stdlib.exception("stdlib lookup failed for %s", EMAIL)


def test_personal_values_never_reach_the_log_output(output: io.StringIO) -> None:
    _flows()
    text = output.getvalue()
    # Only this test's loggers: a library may log too (aiosqlite's rollback of a connection
    # an earlier test left to the garbage collector), and is scanned for leaks all the same.
    lines = [
        entry
        for entry in map(json.loads, text.splitlines())
        if str(entry.get("logger", "")).startswith("test.")
    ]
    assert len(lines) == 10  # every call logged something (nothing silently dropped)
    assert any("Traceback" in (line.get("exception") or "") for line in lines)
    leaked = [value for value in PERSONAL if value in text]
    assert leaked == []


def test_ordinary_fields_pass_unchanged(output: io.StringIO) -> None:
    rid, ident = "req-0190a3b2-7c4e", str(uuid7())
    token = request_id_var.set(rid)
    try:
        structlog.get_logger("test.plain").info(
            "slot.booked",
            entity_id=ident,
            status=201,
            duration_ms=12.5,
            path="/api/v1/ke/bookings",
            at="2026-11-27T06:57:10.598707+00:00",
            spoken="2026-11-27 06:57:10.598707+00:00",
            elapsed="1234.5678",
            digest="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            version="1.2.3",
            peer="10.0.0.12",
        )
    finally:
        request_id_var.reset(token)
    # Only this test's logger: a library may log too (aiosqlite's rollback of a connection
    # an earlier test left to the garbage collector).
    [line] = [
        entry
        for entry in map(json.loads, output.getvalue().splitlines())
        if entry.get("logger") == "test.plain"
    ]
    assert line["request_id"] == rid
    assert line["entity_id"] == ident
    assert (line["status"], line["duration_ms"], line["path"]) == (201, 12.5, "/api/v1/ke/bookings")
    assert line["at"] == "2026-11-27T06:57:10.598707+00:00"
    assert line["spoken"] == "2026-11-27 06:57:10.598707+00:00"
    assert line["elapsed"] == "1234.5678"
    assert line["digest"].startswith("9f86d081")
    assert (line["version"], line["peer"]) == ("1.2.3", "10.0.0.12")
    assert re.match(r"\d{4}-\d\d-\d\dT", line["timestamp"])


@pytest.mark.parametrize(
    "key",
    ["email", "Set-Cookie", "reset_token", "guardian_phone", "otp_sent", "password_hash", "dob"],
)
def test_personal_keys_are_masked_at_any_depth(key: str) -> None:
    event = {"event": "x", "outer": [{"inner": {key: "value-123"}}]}
    assert "value-123" not in json.dumps(scrub.scrub_event(None, "info", event))


@pytest.mark.parametrize("key", ["request_id", "tenant_id", "status_code", "logger_name", "count"])
def test_ordinary_keys_are_kept(key: str) -> None:
    assert scrub.scrub_event(None, "info", {key: "kept"})[key] == "kept"


def test_registered_patterns_must_not_match_empty_text() -> None:
    with pytest.raises(ValueError, match="empty"):
        scrub.register_pattern(r"^\d*$")


def test_a_percent_encoded_email_in_a_logged_url_is_masked() -> None:
    line = "GET https://gw.example/send?to=ama.owusu%40example.org&x=1"
    assert scrub.scrub_text(line) == "GET https://gw.example/send?to=[email]&x=1"
