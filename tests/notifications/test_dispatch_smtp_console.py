"""Dispatch end to end through SMTP (aiosmtpd on loopback), the console channel and SNS.

SMTP: success with the message's stable Message-ID, transient 4xx then success,
permanent 5xx, a stalled server timing out. Console: a login code the demo user reads.
SNS: moto in server mode (when installed).
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from tests.notifications.dispatch_support import (
    EMAIL,
    PHONE,
    fast_forward,
    notifications,
    queue,
    row_of,
    run_worker,
    smtp,
    tenant_with,
)
from tests.notifications.peers import Mailbox, free_port
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.notifications import service, support
from vaxport.notifications.channels.smtp import message_id_for
from vaxport.notifications.channels.sns import boto3_available
from vaxport.notifications.models import Message
from vaxport.settings import Settings

pytestmark = pytest.mark.usefixtures("dispatch_env")


async def test_an_email_is_sent_with_a_message_id_stable_for_the_message(
    clean_db: Database, cache: Cache, fast: Settings, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    tenant = await tenant_with(clean_db, notifications(smtp(port), email="mail"))
    message_id = await queue(clean_db, tenant, to=EMAIL, locale="fr")

    await run_worker(clean_db, cache, fast)

    row = await row_of(clean_db, tenant, message_id)
    assert (row.status, row.channel, row.attempts) == ("sent", "mail", 1)
    [received] = mailbox.messages
    assert received.rcpt_tos == [EMAIL]
    parsed = email.message_from_bytes(received.content, policy=email.policy.default)
    assert parsed["Subject"] == "Message de test vaxport"
    assert parsed["Message-ID"] == message_id_for(
        tenant.code, str(message_id), "health.example.org"
    )
    assert row.provider_message_id == parsed["Message-ID"]


async def test_a_4xx_is_retried_and_the_retry_keeps_the_message_id(
    clean_db: Database, cache: Cache, fast: Settings, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    tenant = await tenant_with(clean_db, notifications(smtp(port), email="mail"))
    mailbox.data_script.append("451 4.3.0 Try again later")
    message_id = await queue(clean_db, tenant, to=EMAIL)

    await run_worker(clean_db, cache, fast)
    row = await row_of(clean_db, tenant, message_id)
    assert (row.status, row.reason) == ("queued", "smtp_451")

    await fast_forward(clean_db)
    await run_worker(clean_db, cache, fast)
    row = await row_of(clean_db, tenant, message_id)
    assert (row.status, row.attempts) == ("sent", 2)
    [received] = mailbox.messages
    parsed = email.message_from_bytes(received.content, policy=email.policy.default)
    assert parsed["Message-ID"] == row.provider_message_id


async def test_a_5xx_for_the_recipient_fails_the_message(
    clean_db: Database, cache: Cache, fast: Settings, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    tenant = await tenant_with(clean_db, notifications(smtp(port), email="mail"))
    mailbox.rcpt_script.append("550 5.1.1 User unknown")
    message_id = await queue(clean_db, tenant, to=EMAIL)

    await run_worker(clean_db, cache, fast)

    row = await row_of(clean_db, tenant, message_id)
    assert (row.status, row.reason) == ("failed", "smtp_550")
    assert mailbox.messages == []


async def test_a_stalled_server_times_out_and_is_retried(
    clean_db: Database, cache: Cache, fast: Settings, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    tenant = await tenant_with(
        clean_db, notifications(smtp(port, timeout_seconds=0.3), email="mail")
    )
    mailbox.data_script.append("stall")
    message_id = await queue(clean_db, tenant, to=EMAIL)

    await run_worker(clean_db, cache, fast)
    assert (await row_of(clean_db, tenant, message_id)).reason == "timeout"

    await fast_forward(clean_db)
    await run_worker(clean_db, cache, fast)
    assert (await row_of(clean_db, tenant, message_id)).status == "sent"
    assert len(mailbox.messages) == 1


async def test_a_login_code_reaches_the_console_outbox_the_dev_page_reads(
    clean_db: Database, cache: Cache, fast: Settings
) -> None:
    tenant = await tenant_with(clean_db, notifications(sms="console", email="console"))
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        message_id = await service.send_login_code(
            uow,
            tenant_id=tenant.id,
            destination=PHONE,
            kind="sms",
            code="482913",
            locale="fr",
            minutes=10,
        )

    await run_worker(clean_db, cache, fast)

    assert (await row_of(clean_db, tenant, message_id)).status == "sent"
    [shown] = await support.list_console_messages(settings=fast)
    assert (shown.to, shown.event, shown.locale) == (PHONE, "login_code", "fr")
    assert "482913" in shown.text
    assert "10 minutes" in shown.text


async def test_an_expired_login_code_is_not_sent(
    clean_db: Database, cache: Cache, fast: Settings
) -> None:
    tenant = await tenant_with(clean_db, notifications())
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        message_id = await service.send_login_code(
            uow,
            tenant_id=tenant.id,
            destination=PHONE,
            kind="sms",
            code="482913",
            locale=None,
            minutes=1,
        )
    # The worker comes back after the code's validity (e.g. after an outage).
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        await uow.session.execute(
            update(Message).where(Message.id == message_id).values(expires_at=utcnow())
        )

    await run_worker(clean_db, cache, fast)

    row = await row_of(clean_db, tenant, message_id)
    assert (row.status, row.reason, row.attempts) == ("cancelled", "expired", 0)
    assert row.data_enc is None
    assert await support.list_console_messages(settings=fast) == []


try:
    from moto.server import ThreadedMotoServer
except ImportError:  # pragma: no cover - depends on the installed extras
    ThreadedMotoServer = None


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    if ThreadedMotoServer is None or not boto3_available():
        pytest.skip("boto3 and moto[server] are needed (pip install -e '.[dev]')")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


async def test_an_sms_is_published_through_sns(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    moto_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    monkeypatch.setenv("TEST_AWS_KEY_ID", "testing")
    monkeypatch.setenv("TEST_AWS_SECRET", "testing")
    channel = {
        "name": "sns",
        "type": "aws-sns",
        "options": {
            "region": "eu-west-1",
            "endpoint_url": moto_url,
            "access_key_id_env": "TEST_AWS_KEY_ID",
            "secret_access_key_env": "TEST_AWS_SECRET",
        },
    }
    tenant = await tenant_with(clean_db, notifications(channel, sms="sns"))
    message_id = await queue(clean_db, tenant, to=PHONE)

    await run_worker(clean_db, cache, fast)

    row = await row_of(clean_db, tenant, message_id)
    assert (row.status, row.channel) == ("sent", "sns")
    backend = sns_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"]
    phone, text, *_ = backend.sms_messages[row.provider_message_id]
    assert phone == PHONE
    assert "test message" in text
