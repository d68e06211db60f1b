"""The generic SMS gateway and Twilio adapters against a real HTTP server on loopback."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import urllib.parse
from typing import Any

import pytest

from tests.notifications.peers import Reply, RunningHttpPeer
from vaxport.notifications.channels.base import ChannelConfigError, Outcome, OutgoingMessage
from vaxport.notifications.channels.http import HttpPool, parse_retry_after
from vaxport.notifications.channels.sms_http import HttpSmsChannel, TwilioChannel
from vaxport.tenancy.notifications_config import SmsHttpOptions, TwilioOptions

SID = "AC" + "0123456789abcdef" * 2


def sms(key: str = "evt-1", to: str = "+33612345678", text: str = "Code 482913") -> OutgoingMessage:
    return OutgoingMessage(
        kind="sms", to=to, dedup_key=key, text=text, tenant="demo", event="login_code", locale="fr"
    )


def gateway(peer: RunningHttpPeer, pool: HttpPool, **extra: Any) -> HttpSmsChannel:
    data: dict[str, Any] = {
        "url": f"{peer.url}/send",
        "body": {"to": "{to}", "message": "{text}", "from": "{sender}", "ref": "{dedup_key}"},
        "sender": "VAXPORT",
        "message_id_json_path": "messages.0.id",
        "timeout_seconds": 2,
    }
    data.update(extra)
    return HttpSmsChannel("sms", SmsHttpOptions.model_validate(data), pool=pool)


@pytest.fixture(autouse=True)
def _gateway_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SMS_TOKEN", "tok-123")
    monkeypatch.setenv("TEST_TWILIO_TOKEN", "twilio-secret")


async def test_json_gateway_gets_filled_body_auth_and_idempotency_key(
    http_peer: RunningHttpPeer, pool: HttpPool
) -> None:
    http_peer.peer.default = Reply(200, {"messages": [{"id": "gw-42", "status": "queued"}]})
    channel = gateway(http_peer, pool, auth={"type": "bearer", "token_env": "TEST_SMS_TOKEN"})
    result = await channel.send(sms())
    assert result.outcome is Outcome.SENT
    assert result.provider_message_id == "gw-42"
    assert result.provider_status == "200"
    [req] = http_peer.peer.requests
    assert req.method == "POST"
    assert req.path == "/send"
    assert req.headers["authorization"] == "Bearer tok-123"
    assert req.headers["idempotency-key"] == "evt-1"
    assert req.json() == {
        "to": "+33612345678",
        "message": "Code 482913",
        "from": "VAXPORT",
        "ref": "evt-1",
    }


async def test_form_body_with_basic_auth(http_peer: RunningHttpPeer, pool: HttpPool) -> None:
    channel = gateway(
        http_peer,
        pool,
        body_format="form",
        auth={"type": "basic", "username": "acct", "password_env": "TEST_SMS_TOKEN"},
        message_id_json_path=None,
    )
    result = await channel.send(sms(text="Caf\u00e9 & co"))
    assert result.ok
    assert result.provider_message_id is None
    [req] = http_peer.peer.requests
    assert req.headers["content-type"] == "application/x-www-form-urlencoded"
    assert urllib.parse.parse_qs(req.body.decode())["message"] == ["Caf\u00e9 & co"]
    assert req.headers["authorization"] == "Basic " + base64.b64encode(b"acct:tok-123").decode()


async def test_get_gateway_sends_fields_in_the_query_and_reads_id_from_a_header(
    http_peer: RunningHttpPeer, pool: HttpPool
) -> None:
    http_peer.peer.default = Reply(202, {}, headers={"X-Message-Id": "hdr-7"})
    channel = gateway(
        http_peer,
        pool,
        method="GET",
        body_format="query",
        body={"dest": "{to}", "msg": "{text}"},
        auth={"type": "header", "header": "X-Api-Key", "token_env": "TEST_SMS_TOKEN"},
        message_id_json_path=None,
        message_id_header="X-Message-Id",
    )
    result = await channel.send(sms())
    assert result.ok
    assert result.provider_message_id == "hdr-7"
    [req] = http_peer.peer.requests
    assert req.method == "GET"
    assert urllib.parse.parse_qs(req.query) == {"dest": ["+33612345678"], "msg": ["Code 482913"]}
    assert req.headers["x-api-key"] == "tok-123"


async def test_json_success_criterion(http_peer: RunningHttpPeer, pool: HttpPool) -> None:
    channel = gateway(
        http_peer,
        pool,
        success_json_path="status",
        success_json_values=["OK", "QUEUED"],
        message_id_json_path="id",
    )
    http_peer.peer.replies.extend(
        [
            Reply(200, {"status": "QUEUED", "id": 991}),
            Reply(200, {"status": "ERROR", "error": "bad number"}),
            Reply(200, raw=b"<html>proxy</html>"),
        ]
    )
    accepted = await channel.send(sms("a"))
    rejected = await channel.send(sms("b"))
    garbled = await channel.send(sms("c"))
    assert accepted.ok
    assert accepted.provider_message_id == "991"
    assert rejected.outcome is Outcome.PERMANENT
    assert rejected.reason == "gateway_rejected"
    assert garbled.outcome is Outcome.TRANSIENT
    assert garbled.reason == "unexpected_response"


@pytest.mark.parametrize(
    ("reply", "outcome", "reason", "retry_after"),
    [
        (Reply(503, {}, headers={"Retry-After": "17"}), Outcome.TRANSIENT, "http_503", 17.0),
        (Reply(500, {}), Outcome.TRANSIENT, "http_500", None),
        (Reply(429, {}, headers={"Retry-After": "120"}), Outcome.TRANSIENT, "rate_limited", 120.0),
        (Reply(400, {"error": "invalid number"}), Outcome.PERMANENT, "http_400", None),
        (Reply(404, {}), Outcome.PERMANENT, "http_404", None),
        (Reply(401, {}), Outcome.TRANSIENT, "auth_failed", None),
        (
            Reply(302, {}, headers={"Location": "http://elsewhere/"}),
            Outcome.PERMANENT,
            "http_302",
            None,
        ),
    ],
)
async def test_failure_statuses_are_classified(
    http_peer: RunningHttpPeer,
    pool: HttpPool,
    reply: Reply,
    outcome: Outcome,
    reason: str,
    retry_after: float | None,
) -> None:
    http_peer.peer.replies.append(reply)
    result = await gateway(http_peer, pool).send(sms())
    assert result.outcome is outcome
    assert result.reason == reason
    assert result.retry_after == retry_after
    assert result.provider_status == str(reply.status)
    assert len(http_peer.peer.requests) == 1  # no redirect followed, no hidden retry


async def test_429_with_http_date_retry_after(http_peer: RunningHttpPeer, pool: HttpPool) -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    http_peer.peer.replies.append(
        Reply(429, {}, headers={"Retry-After": email.utils.format_datetime(when, usegmt=True)})
    )
    result = await gateway(http_peer, pool).send(sms())
    assert result.reason == "rate_limited"
    assert result.retry_after is not None
    assert 540 < result.retry_after <= 600


def test_retry_after_parsing() -> None:
    now = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert parse_retry_after("30", now=now) == 30.0
    assert parse_retry_after("Sat, 01 Mar 2025 12:01:00 GMT", now=now) == 60.0
    assert parse_retry_after("Sat, 01 Mar 2025 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("-5", now=now) is None
    assert parse_retry_after("", now=now) is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("99999999", now=now) == 86400.0


async def test_a_stalled_gateway_times_out_as_transient(
    http_peer: RunningHttpPeer, pool: HttpPool
) -> None:
    http_peer.peer.replies.append(Reply(stall=True))
    result = await gateway(http_peer, pool, timeout_seconds=0.3).send(sms())
    assert result.outcome is Outcome.TRANSIENT
    assert result.reason == "timeout"


async def test_connection_refused_is_transient(pool: HttpPool, closed_port: int) -> None:
    options = SmsHttpOptions.model_validate(
        {"url": f"http://127.0.0.1:{closed_port}/send", "body": {"to": "{to}", "t": "{text}"}}
    )
    result = await HttpSmsChannel("sms", options, pool=pool).send(sms())
    assert result.outcome is Outcome.TRANSIENT
    assert result.reason == "connection_failed"


async def test_sends_reuse_the_pooled_connection(
    http_peer: RunningHttpPeer, pool: HttpPool
) -> None:
    channel = gateway(http_peer, pool)
    for i in range(3):
        assert (await channel.send(sms(f"k{i}"))).ok
    assert len({r.client_port for r in http_peer.peer.requests}) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"to": "{to}", "t": "{text}", "x": "{code}"}, "unknown placeholder"),
        ({"to": "{to}"}, "must use the {to} and {text}"),
        ({"to": "{to}", "t": "{text}", "x": "{text.__class__}"}, "must use|unknown"),
    ],
)
def test_bad_body_templates_are_refused(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        SmsHttpOptions.model_validate({"url": "https://gw.example.org/", "body": body})


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://gw.example.org/send", "must use https"),
        ("https://user:pw@gw.example.org/send", "credentials"),
        ("ftp://gw.example.org/", "http"),
    ],
)
def test_unsafe_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        SmsHttpOptions.model_validate({"url": url, "body": {"to": "{to}", "t": "{text}"}})


def test_missing_token_variable_fails_at_build(
    pool: HttpPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_SMS_TOKEN")
    options = SmsHttpOptions.model_validate(
        {
            "url": "https://gw.example.org/",
            "body": {"to": "{to}", "t": "{text}"},
            "auth": {"type": "bearer", "token_env": "TEST_SMS_TOKEN"},
        }
    )
    with pytest.raises(ChannelConfigError, match="TEST_SMS_TOKEN"):
        HttpSmsChannel("sms", options, pool=pool)


def twilio(peer: RunningHttpPeer, pool: HttpPool) -> TwilioChannel:
    options = TwilioOptions.model_validate(
        {
            "url": peer.url,
            "account_sid": SID,
            "auth_token_env": "TEST_TWILIO_TOKEN",
            "sender": "+15005550006",
        }
    )
    return TwilioChannel("twilio", options, pool=pool)


async def test_twilio_form_post_with_basic_auth(http_peer: RunningHttpPeer, pool: HttpPool) -> None:
    http_peer.peer.replies.append(Reply(201, {"sid": "SM" + "a" * 32, "status": "queued"}))
    result = await twilio(http_peer, pool).send(sms())
    assert result.ok
    assert result.provider_message_id == "SM" + "a" * 32
    assert result.provider_status == "201"
    [req] = http_peer.peer.requests
    assert req.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert (
        req.headers["authorization"]
        == "Basic " + base64.b64encode(f"{SID}:twilio-secret".encode()).decode()
    )
    form = urllib.parse.parse_qs(req.body.decode())
    assert form == {"To": ["+33612345678"], "From": ["+15005550006"], "Body": ["Code 482913"]}


async def test_twilio_errors_carry_twilio_codes(http_peer: RunningHttpPeer, pool: HttpPool) -> None:
    http_peer.peer.replies.extend(
        [
            Reply(400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}),
            Reply(429, {"code": 20429, "status": 429}, headers={"Retry-After": "3"}),
            Reply(503, {}),
        ]
    )
    channel = twilio(http_peer, pool)
    invalid = await channel.send(sms("a"))
    limited = await channel.send(sms("b"))
    down = await channel.send(sms("c"))
    assert (invalid.outcome, invalid.reason) == (Outcome.PERMANENT, "twilio_21211")
    assert (limited.outcome, limited.reason, limited.retry_after) == (
        Outcome.TRANSIENT,
        "rate_limited",
        3.0,
    )
    assert (down.outcome, down.reason) == (Outcome.TRANSIENT, "http_503")


def test_twilio_needs_exactly_one_sender() -> None:
    base = {"account_sid": SID, "auth_token_env": "T"}
    with pytest.raises(ValueError, match="exactly one"):
        TwilioOptions.model_validate(base)
    with pytest.raises(ValueError, match="exactly one"):
        TwilioOptions.model_validate({**base, "sender": "+1", "messaging_service_sid": "MG1"})
    with pytest.raises(ValueError, match="auth_token"):
        TwilioOptions.model_validate({**base, "sender": "+1", "auth_token": "literal"})


async def test_an_email_message_is_refused_by_an_sms_channel(
    http_peer: RunningHttpPeer, pool: HttpPool
) -> None:
    message = OutgoingMessage(
        kind="email", to="a@example.org", dedup_key="k", subject="s", text="t"
    )
    result = await gateway(http_peer, pool).send(message)
    assert (result.outcome, result.reason) == (Outcome.PERMANENT, "unsupported_kind")
    assert http_peer.peer.requests == []
