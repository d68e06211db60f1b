"""No destination, body or code ever reaches the structured log, whatever the outcome."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from tests.notifications.peers import Mailbox, Reply, RunningHttpPeer
from vaxport.core.logging import configure_logging
from vaxport.notifications.channels.base import OutgoingMessage
from vaxport.notifications.channels.http import HttpPool
from vaxport.notifications.channels.sms_http import HttpSmsChannel, TwilioChannel
from vaxport.notifications.channels.smtp import SmtpChannel
from vaxport.notifications.channels.webhook import WebhookChannel
from vaxport.tenancy.notifications_config import (
    SmsHttpOptions,
    SmtpOptions,
    TwilioOptions,
    WebhookOptions,
)

PHONE = "+33698765432"
EMAIL = "fatou.diallo@example.org"
CODE = "917364"


@pytest.fixture
def captured_log() -> Iterator[io.StringIO]:
    """Every log line the process emits at DEBUG, rendered as in production."""
    configure_logging(level="DEBUG", json=True)
    root = logging.getLogger()
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(root.handlers[0].formatter)
    # The test's own SMTP server logs envelopes; it is not part of vaxport.
    handler.addFilter(lambda record: not record.name.startswith("mail.log"))
    root.addHandler(handler)
    yield buffer
    root.removeHandler(handler)
    configure_logging(level="INFO", json=True)


async def test_sends_log_outcomes_without_destination_or_body(
    captured_log: io.StringIO,
    smtp_server: tuple[Mailbox, int],
    http_peer: RunningHttpPeer,
    pool: HttpPool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_TOKEN", "tok")
    mailbox, port = smtp_server
    mailbox.rcpt_script.append(f"550 5.1.1 <{EMAIL}>: Recipient address rejected")
    mailbox.data_script.append("stall")
    smtp = SmtpChannel(
        "mail",
        SmtpOptions(
            host="127.0.0.1",
            port=port,
            security="plain",
            sender="a@example.org",
            timeout_seconds=0.3,
        ),
    )
    email = OutgoingMessage(
        kind="email", to=EMAIL, dedup_key="e1", subject=f"Code {CODE}", text=f"Code {CODE}"
    )
    sms = OutgoingMessage(kind="sms", to=PHONE, dedup_key="s1", text=f"Your code is {CODE}")
    hook = OutgoingMessage(
        kind="webhook", to=PHONE, dedup_key="w1", text=f"Your code is {CODE}", data={"c": CODE}
    )
    get_gateway = HttpSmsChannel(
        "gw",
        SmsHttpOptions(
            url=f"{http_peer.url}/send",
            method="GET",
            body_format="query",
            body={"to": "{to}", "msg": "{text}"},
        ),
        pool=pool,
    )
    twilio = TwilioChannel(
        "tw",
        TwilioOptions(
            url=http_peer.url,
            account_sid="AC" + "0" * 32,
            auth_token_env="TEST_TOKEN",
            sender="+15005550006",
        ),
        pool=pool,
    )
    webhook = WebhookChannel(
        "hook", WebhookOptions(url=f"{http_peer.url}/hook", secret_env="TEST_TOKEN"), pool=pool
    )
    http_peer.peer.replies.extend(
        [
            Reply(200, {}),
            Reply(400, {"error": f"invalid number {PHONE}"}),
            Reply(400, {"code": 21211, "message": f"Invalid 'To' {PHONE}"}),
            Reply(500, {}),
        ]
    )

    results = [
        await smtp.send(email),  # 550 quoting the address
        await smtp.send(email),  # stalled DATA -> timeout
        await smtp.send(email),  # sent
        await get_gateway.send(sms),  # destination in the URL query
        await get_gateway.send(sms),  # 400 quoting the number
        await twilio.send(sms),
        await webhook.send(hook),
    ]
    await smtp.aclose()

    assert [r.reason for r in results] == [
        "smtp_550",
        "timeout",
        "ok",
        "ok",
        "http_400",
        "twilio_21211",
        "http_500",
    ]
    log = captured_log.getvalue()
    assert log.count('"notification.send"') == len(results)  # the capture works
    for secret in (PHONE, PHONE.lstrip("+"), EMAIL, CODE):
        assert secret not in log


def test_message_repr_hides_destination_and_body() -> None:
    m = OutgoingMessage(kind="sms", to=PHONE, dedup_key="k", text=f"code {CODE}")
    assert PHONE not in repr(m)
    assert CODE not in repr(m)
    assert PHONE not in f"{m}"
