"""The SMTP channel against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import asyncio
import email
import email.policy
from typing import Any

import pytest

from tests.notifications.peers import Mailbox, TlsFiles, authenticator, start_smtp
from vaxport.notifications.channels.base import ChannelConfigError, Outcome, OutgoingMessage
from vaxport.notifications.channels.smtp import SmtpChannel, message_id_for
from vaxport.tenancy.notifications_config import SmtpOptions


def options(port: int, **extra: Any) -> SmtpOptions:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "plain",
        "sender": "Vaxport Demoland <no-reply@vaxport.example.org>",
        "timeout_seconds": 5,
    }
    base.update(extra)
    return SmtpOptions.model_validate(base)


def mail(key: str = "evt-1", to: str = "amina@example.org", **extra: Any) -> OutgoingMessage:
    fields: dict[str, Any] = {
        "kind": "email",
        "to": to,
        "dedup_key": key,
        "subject": "Your vaxport login code",
        "text": "Your code is 482913.",
        "html": "<p>Your code is <b>482913</b>.</p>",
        "tenant": "demo",
        "event": "login_code",
        "locale": "en",
    }
    fields.update(extra)
    return OutgoingMessage(**fields)


async def test_sends_multipart_text_and_html_with_message_id_from_dedup_key(
    smtp_server: tuple[Mailbox, int],
) -> None:
    mailbox, port = smtp_server
    channel = SmtpChannel("mail", options(port))
    try:
        result = await channel.send(mail("evt-1"))
    finally:
        await channel.aclose()

    assert result.outcome is Outcome.SENT
    assert result.provider_status == "250"
    expected_id = message_id_for("demo", "evt-1", "vaxport.example.org")
    assert result.provider_message_id == expected_id
    [received] = mailbox.messages
    assert received.mail_from == "no-reply@vaxport.example.org"
    assert received.rcpt_tos == ["amina@example.org"]
    parsed = email.message_from_bytes(received.content, policy=email.policy.default)
    assert parsed["Message-ID"] == expected_id
    assert parsed["Subject"] == "Your vaxport login code"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed.get_content_type() == "multipart/alternative"
    text = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert text is not None
    assert "482913" in text.get_content()
    assert html is not None
    assert "<b>482913</b>" in html.get_content()


def test_message_id_is_stable_per_dedup_key_and_differs_between_keys() -> None:
    a = message_id_for("demo", "evt-1", "x.org")
    assert a == message_id_for("demo", "evt-1", "x.org")
    assert a != message_id_for("demo", "evt-2", "x.org")
    assert a != message_id_for("other", "evt-1", "x.org")


async def test_consecutive_messages_reuse_one_connection(smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    channel = SmtpChannel("mail", options(port, max_connections=1))
    try:
        results = [await channel.send(mail(f"evt-{i}")) for i in range(3)]
    finally:
        await channel.aclose()
    assert all(r.ok for r in results)
    assert len({m.peer for m in mailbox.messages}) == 1
    assert len(mailbox.messages) == 3


async def test_concurrent_sends_all_arrive_within_the_connection_limit(
    smtp_server: tuple[Mailbox, int],
) -> None:
    mailbox, port = smtp_server
    channel = SmtpChannel("mail", options(port, max_connections=2))
    try:
        results = await asyncio.gather(*(channel.send(mail(f"c-{i}")) for i in range(8)))
    finally:
        await channel.aclose()
    assert all(r.ok for r in results)
    assert len(mailbox.messages) == 8
    assert len({m.peer for m in mailbox.messages}) <= 2


async def test_transient_4xx_then_success(smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    mailbox.data_script.append("451 4.3.0 Try again later")
    channel = SmtpChannel("mail", options(port))
    try:
        first = await channel.send(mail("evt-retry"))
        second = await channel.send(mail("evt-retry"))
    finally:
        await channel.aclose()
    assert first.outcome is Outcome.TRANSIENT
    assert first.reason == "smtp_451"
    assert first.provider_status == "451"
    assert second.ok
    assert len(mailbox.messages) == 1


async def test_permanent_5xx_for_the_recipient_and_channel_keeps_working(
    smtp_server: tuple[Mailbox, int],
) -> None:
    mailbox, port = smtp_server
    mailbox.rcpt_script.append("550 5.1.1 <amina@example.org>: Recipient address rejected")
    channel = SmtpChannel("mail", options(port))
    try:
        refused = await channel.send(mail("evt-a"))
        after = await channel.send(mail("evt-b"))
    finally:
        await channel.aclose()
    assert refused.outcome is Outcome.PERMANENT
    assert refused.reason == "smtp_550"
    assert after.ok


async def test_permanent_5xx_at_data(smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    mailbox.data_script.append("554 5.6.0 Message content rejected")
    channel = SmtpChannel("mail", options(port))
    try:
        result = await channel.send(mail())
    finally:
        await channel.aclose()
    assert result.outcome is Outcome.PERMANENT
    assert result.reason == "smtp_554"


async def test_a_stalled_server_times_out_as_transient(smtp_server: tuple[Mailbox, int]) -> None:
    mailbox, port = smtp_server
    mailbox.data_script.append("stall")
    channel = SmtpChannel("mail", options(port, timeout_seconds=0.3))
    try:
        stalled = await channel.send(mail("evt-slow"))
        recovered = await channel.send(mail("evt-next"))
    finally:
        await channel.aclose()
    assert stalled.outcome is Outcome.TRANSIENT
    assert stalled.reason == "timeout"
    assert recovered.ok


async def test_connection_refused_is_transient(closed_port: int) -> None:
    channel = SmtpChannel("mail", options(closed_port))
    result = await channel.send(mail())
    await channel.aclose()
    assert result.outcome is Outcome.TRANSIENT
    assert result.reason == "connection_failed"


async def test_a_connection_closed_by_the_server_while_idle_is_replaced(
    smtp_server: tuple[Mailbox, int],
) -> None:
    mailbox, port = smtp_server
    channel = SmtpChannel("mail", options(port))
    try:
        assert (await channel.send(mail("evt-1"))).ok
        [transport] = mailbox.transports
        assert mailbox.loop is not None  # the server's loop runs in the controller thread
        mailbox.loop.call_soon_threadsafe(transport.close)
        await asyncio.sleep(0.05)
        again = await channel.send(mail("evt-2"))
    finally:
        await channel.aclose()
    assert again.ok
    assert len(mailbox.messages) == 2


async def test_non_ascii_local_part_is_refused_permanently(
    smtp_server: tuple[Mailbox, int],
) -> None:
    _, port = smtp_server
    channel = SmtpChannel("mail", options(port))
    result = await channel.send(mail(to="amína@example.org"))
    await channel.aclose()
    assert result.outcome is Outcome.PERMANENT
    assert result.reason == "invalid_address"


async def test_starttls_with_auth(tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    mailbox = Mailbox()
    controller = start_smtp(
        mailbox,
        tls_context=tls_files.server_context(),
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator("vaxport", "s3cret-pass"),
    )
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret-pass")
    monkeypatch.setenv("TEST_SMTP_WRONG", "wrong")
    good = SmtpChannel(
        "mail",
        options(
            controller.port,
            security="starttls",
            ca_file=str(tls_files.cert),
            username="vaxport",
            password_env="TEST_SMTP_PASSWORD",
        ),
    )
    bad = SmtpChannel(
        "mail",
        options(
            controller.port,
            security="starttls",
            ca_file=str(tls_files.cert),
            username="vaxport",
            password_env="TEST_SMTP_WRONG",
        ),
    )
    untrusted = SmtpChannel("mail", options(controller.port, security="starttls"))
    try:
        ok = await good.send(mail())
        refused = await bad.send(mail())
        unverified = await untrusted.send(mail())
    finally:
        for ch in (good, bad, untrusted):
            await ch.aclose()
        controller.stop()
    assert ok.ok
    assert refused.outcome is Outcome.TRANSIENT
    assert refused.reason == "auth_failed"
    assert unverified.outcome is Outcome.TRANSIENT
    assert unverified.reason == "tls_failed"
    [received] = mailbox.messages
    assert received.tls
    assert received.authenticated


async def test_implicit_tls(tls_files: TlsFiles) -> None:
    mailbox = Mailbox()
    controller = start_smtp(mailbox, ssl_context=tls_files.server_context())
    channel = SmtpChannel(
        "mail", options(controller.port, security="tls", ca_file=str(tls_files.cert))
    )
    try:
        result = await channel.send(mail())
    finally:
        await channel.aclose()
        controller.stop()
    assert result.ok
    assert len(mailbox.messages) == 1


def test_missing_password_variable_fails_at_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_SMTP_NOT_SET", raising=False)
    with pytest.raises(ChannelConfigError, match="TEST_SMTP_NOT_SET"):
        SmtpChannel(
            "mail",
            options(25, security="starttls", username="u", password_env="TEST_SMTP_NOT_SET"),
        )


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"password": "hunter2"}, "would put a secret"),
        ({"host": "smtp.example.org", "username": "u", "password_env": "P"}, "in clear"),
        ({"username": "u"}, "go together"),
        ({"sender": "not an address"}, "sender"),
    ],
)
def test_unsafe_or_incomplete_options_are_refused(extra: dict[str, Any], reason: str) -> None:
    data: dict[str, Any] = {"host": "127.0.0.1", "security": "plain", "sender": "a@example.org"}
    data.update(extra)
    with pytest.raises(ValueError, match=reason):
        SmtpOptions.model_validate(data)


def test_an_unreadable_ca_file_fails_at_build(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ChannelConfigError, match="ca_file"):
        SmtpChannel("mail", options(25, security="tls", ca_file=str(tmp_path / "none.pem")))
