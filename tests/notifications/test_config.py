"""The notifications section schema: quiet hours, caps, routes, webhooks by event."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from vaxport.tenancy.notifications_config import NotificationsConfig, QuietHours, RecipientCaps

UTC = dt.UTC


def test_quiet_hours_wrap_past_midnight() -> None:
    q = QuietHours(start=dt.time(21), end=dt.time(8))
    assert q.is_quiet(dt.time(23, 30))
    assert q.is_quiet(dt.time(0, 0))
    assert q.is_quiet(dt.time(7, 59))
    assert not q.is_quiet(dt.time(8, 0))
    assert not q.is_quiet(dt.time(20, 59))


def test_quiet_hours_within_a_day() -> None:
    q = QuietHours(start=dt.time(12), end=dt.time(14))
    assert q.is_quiet(dt.time(13))
    assert not q.is_quiet(dt.time(14))


def test_release_time_is_the_end_of_the_window_in_the_tenant_zone() -> None:
    q = QuietHours(start=dt.time(21), end=dt.time(8))
    # 22:30 in Paris (UTC+1 in winter) -> released at 08:00 Paris next day = 07:00 UTC.
    now = dt.datetime(2025, 1, 10, 21, 30, tzinfo=UTC)
    assert q.release_at(now, tenant_timezone="Europe/Paris") == dt.datetime(
        2025, 1, 11, 7, 0, tzinfo=UTC
    )
    # 03:00 Paris: released the same morning.
    early = dt.datetime(2025, 1, 11, 2, 0, tzinfo=UTC)
    assert q.release_at(early, tenant_timezone="Europe/Paris") == dt.datetime(
        2025, 1, 11, 7, 0, tzinfo=UTC
    )
    midday = dt.datetime(2025, 1, 11, 12, 0, tzinfo=UTC)
    assert q.release_at(midday, tenant_timezone="Europe/Paris") is None


def test_login_codes_are_exempt_from_quiet_hours_by_default() -> None:
    q = QuietHours(start=dt.time(21), end=dt.time(8))
    assert not q.applies_to("login_code")
    assert q.applies_to("appointment_reminder")


@pytest.mark.parametrize(
    "data",
    [
        {"start": "21:00", "end": "21:00"},
        {"start": "21:00", "end": "08:00", "timezone": "Mars/Olympus"},
    ],
)
def test_bad_quiet_hours_are_refused(data: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        QuietHours.model_validate(data)


def test_caps_must_be_consistent() -> None:
    assert RecipientCaps().per_hour == 10
    with pytest.raises(ValidationError, match="per_hour cannot exceed per_day"):
        RecipientCaps(per_hour=50, per_day=20)


def test_webhooks_are_selected_by_event_and_routes_default_to_console() -> None:
    cfg = NotificationsConfig.model_validate(
        {
            "channels": [
                {
                    "name": "all",
                    "type": "webhook",
                    "options": {"url": "https://a.example.org/h", "secret_env": "A"},
                },
                {
                    "name": "otp-only",
                    "type": "webhook",
                    "options": {
                        "url": "https://b.example.org/h",
                        "secret_env": "B",
                        "events": ["login_code"],
                    },
                },
            ]
        }
    )
    assert [c.name for c in cfg.webhooks_for("login_code")] == ["all", "otp-only"]
    assert [c.name for c in cfg.webhooks_for("test_message")] == ["all"]
    assert cfg.route("sms") == "console"


def test_channel_names_are_unique() -> None:
    console = {"name": "c", "type": "console"}
    with pytest.raises(ValidationError, match="unique"):
        NotificationsConfig.model_validate({"channels": [console, console]})


def test_the_documented_example_is_valid() -> None:
    import re
    from pathlib import Path

    import yaml

    from vaxport.notifications.validation import check_notification_config

    doc = (Path(__file__).resolve().parents[2] / "docs" / "notifications.md").read_text()
    example = re.search(r"```yaml\n(.*?)```", doc, re.S)
    assert example is not None
    section = yaml.safe_load(example.group(1))["notifications"]
    report = check_notification_config(section, default_locale="fr", locales=["fr", "en"])
    assert report.problems == []
