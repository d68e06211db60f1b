"""Settings of proxies, CORS and rate limits: refused at start-up when they cannot work."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vaxport.settings import Settings


def test_lists_come_from_json_or_comma_separated_environment_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VAXPORT_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1 ,2001:db8::/32")
    monkeypatch.setenv(
        "VAXPORT_CORS_ORIGINS", '["https://App.Example.org", "http://localhost:3000"]'
    )
    s = Settings()
    assert s.trusted_proxies == ["10.0.0.0/8", "192.0.2.1", "2001:db8::/32"]
    assert s.cors_origins == ["https://app.example.org", "http://localhost:3000"]


@pytest.mark.parametrize(
    "changes",
    [
        {"trusted_proxies": ["10.0.0.0/33"]},
        {"trusted_proxies": ["proxy.internal"]},
        {"cors_origins": ["https://app.example.org/"]},
        {"cors_origins": ["https://app.example.org/path"]},
        {"cors_origins": ["app.example.org"]},
        {"cors_origins": ["*"], "cors_allow_credentials": True},
        {"rate_limit_login_ip": "lots"},
        {"rate_limit_write_account": "1000000/second"},
        {"forwarded_header": "x-real-ip"},
    ],
)
def test_settings_that_cannot_work_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(**changes)  # type: ignore[arg-type]


def test_every_class_has_a_default_for_both_dimensions() -> None:
    s = Settings()
    for route_class in (
        "code_request",
        "login",
        "public_search",
        "verification",
        "booking",
        "write",
        "default",
    ):
        for dimension in ("ip", "account"):
            assert s.rate_limit_rule(route_class, dimension)
    assert Settings(cors_origins=["*"]).cors_origins == ["*"]  # without credentials: allowed
