"""The console channel, its outbox file and the development message page."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import httpx
import orjson
import pytest

from vaxport.core.db import Database
from vaxport.notifications.channels import ChannelSet, HttpPool, build_channel
from vaxport.notifications.channels.base import ChannelConfigError, OutgoingMessage
from vaxport.notifications.channels.console import ConsoleChannel, read_console_outbox
from vaxport.settings import Settings
from vaxport.tenancy.notifications_config import (
    ConsoleChannelConfig,
    ConsoleOptions,
    NotificationsConfig,
)


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _append_raw(path: Path, data: bytes) -> None:
    with path.open("ab") as fh:
        fh.write(data)


def otp(key: str, to: str = "+33612345678", code: str = "482913") -> OutgoingMessage:
    return OutgoingMessage(
        kind="sms",
        to=to,
        dedup_key=key,
        text=f"Your vaxport code is {code}.",
        tenant="demo",
        event="login_code",
        locale="en",
    )


async def test_prints_a_banner_and_appends_a_private_json_line(outbox_path: Path) -> None:
    stream = io.StringIO()
    channel = ConsoleChannel("console", ConsoleOptions(), outbox=outbox_path, stream=stream)
    result = await channel.send(otp("k1"))
    assert result.ok
    assert result.provider_message_id is not None
    assert result.provider_message_id.startswith("console-")
    printed = stream.getvalue()
    assert "+33612345678" in printed
    assert "Your vaxport code is 482913." in printed
    [line] = _lines(outbox_path)
    entry = orjson.loads(line)
    assert entry["to"] == "+33612345678"
    assert entry["text"] == "Your vaxport code is 482913."
    assert entry["id"] == result.provider_message_id
    assert _mode(outbox_path) == 0o600


async def test_a_repeated_dedup_key_is_recorded_once(outbox_path: Path) -> None:
    channel = ConsoleChannel("c", ConsoleOptions(banner=False), outbox=outbox_path)
    first = await channel.send(otp("same"))
    second = await channel.send(otp("same"))
    assert first.provider_message_id == second.provider_message_id
    assert len(_lines(outbox_path)) == 1


async def test_reads_the_last_entries_newest_first(outbox_path: Path) -> None:
    channel = ConsoleChannel("c", ConsoleOptions(banner=False), outbox=outbox_path)
    for i in range(5):
        await channel.send(otp(f"k{i}", code=f"00000{i}"))
    _append_raw(outbox_path, b'{"truncated": \n')  # a damaged line is skipped, not fatal
    latest = read_console_outbox(outbox_path, limit=3)
    assert [e["dedup_key"] for e in latest] == ["k4", "k3", "k2"]
    assert read_console_outbox(outbox_path, limit=0) == []
    assert read_console_outbox(outbox_path.with_name("missing.jsonl")) == []


def test_tail_reading_spans_blocks(outbox_path: Path) -> None:
    lines = [orjson.dumps({"n": i, "pad": "x" * 5000}) for i in range(40)]
    outbox_path.write_bytes(b"\n".join(lines) + b"\n")
    latest = read_console_outbox(outbox_path, limit=25)
    assert [e["n"] for e in latest] == list(range(39, 14, -1))


def test_refused_in_production(tmp_path: Path) -> None:
    settings = Settings(env="production", data_dir=tmp_path)
    config = ConsoleChannelConfig(name="console", type="console")
    with pytest.raises(ChannelConfigError, match="refused in production"):
        build_channel(config, settings=settings, pool=HttpPool())


async def test_channel_set_routes_unconfigured_kinds_to_the_console(tmp_path: Path) -> None:
    settings = Settings(env="development", data_dir=tmp_path)
    stream = io.StringIO()
    channels = ChannelSet(
        NotificationsConfig(), settings=settings, pool=HttpPool(), console_stream=stream
    )
    assert isinstance(channels.for_kind("sms"), ConsoleChannel)
    assert channels.for_kind("email") is channels.for_kind("sms")
    assert channels.webhooks_for("login_code") == []
    assert (await channels.for_kind("sms").send(otp("k"))).ok
    assert read_console_outbox(tmp_path / "console-outbox.jsonl")[0]["dedup_key"] == "k"
    await channels.aclose()


async def _dev_client(settings: Settings, db: Database, cache):  # type: ignore[no-untyped-def]
    from vaxport.app import create_app

    app = create_app(settings, database=db, cache=cache)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_dev_page_lists_messages_escaped_in_development(
    tmp_path: Path,
    clean_db: Database,
    cache,
    database_url: str,  # type: ignore[no-untyped-def]
) -> None:
    settings = Settings(env="development", data_dir=tmp_path, database_url=database_url)
    channel = ConsoleChannel(
        "console", ConsoleOptions(banner=False), outbox=tmp_path / "console-outbox.jsonl"
    )
    await channel.send(otp("k1", code="111111"))
    await channel.send(otp("k2", to="+15551230000", code="<script>alert(1)</script>"))
    async with await _dev_client(settings, clean_db, cache) as client:
        resp = await client.get("/dev/messages")
        bad = await client.get("/dev/messages", params={"limit": "0"})
    assert resp.status_code == 200
    assert resp.headers["cache-control"] == "no-store"
    html = resp.text
    assert html.index("+15551230000") < html.index("+33612345678")  # newest first
    assert "111111" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert bad.status_code == 422


def _mounts_dev_router(settings: Settings) -> bool:
    from fastapi import FastAPI
    from fastapi.routing import APIRoute

    from tests.support.parts import PARTS
    from vaxport.app import _include_routers
    from vaxport.notifications.api import dev_router

    app = FastAPI()
    _include_routers(app, settings, PARTS)
    dev_endpoints = {r.endpoint for r in dev_router.routes if isinstance(r, APIRoute)}
    return any(getattr(r, "endpoint", None) in dev_endpoints for r in app.routes)


@pytest.mark.parametrize("env", ["development", "test", "production"])
def test_dev_router_is_mounted_only_in_development(env: str, tmp_path: Path) -> None:
    settings = Settings(env="development", data_dir=tmp_path).model_copy(update={"env": env})
    assert _mounts_dev_router(settings) is (env == "development")


async def test_dev_page_answers_404_in_a_test_process(
    tmp_path: Path,
    clean_db: Database,
    cache,
    database_url: str,  # type: ignore[no-untyped-def]
) -> None:
    settings = Settings(env="test", data_dir=tmp_path, database_url=database_url)
    async with await _dev_client(settings, clean_db, cache) as client:
        resp = await client.get("/dev/messages")
    assert resp.status_code == 404


def test_dev_route_declares_its_permission() -> None:
    from fastapi.routing import APIRoute

    from vaxport.core.http.dependencies import route_permission
    from vaxport.notifications.api import dev_router

    [route] = [r for r in dev_router.routes if isinstance(r, APIRoute)]
    assert route.path == "/dev/messages"
    assert route_permission(route) == ("dev:messages", True)


def test_channel_set_names_the_channel_whose_secret_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_UNSET_TOKEN", raising=False)
    config = NotificationsConfig.model_validate(
        {
            "channels": [
                {
                    "name": "gw",
                    "type": "sms-http",
                    "options": {
                        "url": "https://gw.example.org/send",
                        "body": {"to": "{to}", "text": "{text}"},
                        "auth": {"type": "bearer", "token_env": "TEST_UNSET_TOKEN"},
                    },
                }
            ],
            "routes": {"sms": "gw"},
        }
    )
    settings = Settings(env="development", data_dir=tmp_path)
    with pytest.raises(ChannelConfigError, match=r"channel 'gw'.*TEST_UNSET_TOKEN"):
        ChannelSet(config, settings=settings, pool=HttpPool())
