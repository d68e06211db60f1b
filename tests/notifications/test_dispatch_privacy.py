"""No phone number, address or login code reaches the log through a full dispatch.

Everything the process logs at DEBUG is captured while login codes are queued and sent
by SMS and e-mail, a provider refuses one quoting the number, an administrator sends a
test message (and mistypes one), and a delivery report arrives.
"""

from __future__ import annotations

import io
import logging
import urllib.parse
from collections.abc import Iterator

import httpx
import orjson
import pytest
from fastapi import FastAPI

from tests.identity.helpers import api_login, bearer, make_staff
from tests.notifications.dispatch_support import (
    notifications,
    run_worker,
    smtp,
    tenant_with,
    twilio,
)
from tests.notifications.peers import Mailbox, Reply, RunningHttpPeer
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.logging import configure_logging
from vaxport.notifications import service
from vaxport.notifications.callbacks import twilio_signature
from vaxport.settings import Settings

pytestmark = pytest.mark.usefixtures("dispatch_env")
PHONE = "+14165550142"
EMAIL = "fatou.diallo@example.org"
CODE = "917364"


@pytest.fixture
def captured_log(app: FastAPI) -> Iterator[io.StringIO]:
    """Everything logged at DEBUG, rendered as in production (set up after the app, which
    configures logging itself)."""
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


async def test_a_full_dispatch_logs_no_destination_body_or_code(
    captured_log: io.StringIO,
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    http_peer: RunningHttpPeer,
    smtp_server: tuple[Mailbox, int],
    app: FastAPI,
    client: httpx.AsyncClient,
    settings: Settings,
) -> None:
    mailbox, port = smtp_server
    code = "tpriv01"
    callback = f"https://vaxport.example.org/api/v1/{code}/notifications/callbacks/twilio"
    tenant = await tenant_with(
        clean_db,
        notifications(
            twilio(http_peer.url, status_callback=callback),
            smtp(port),
            sms="twilio",
            email="mail",
        ),
        code=code,
    )
    http_peer.peer.replies.extend(
        [
            Reply(400, {"code": 21211, "message": f"Invalid 'To' Phone Number: {PHONE}"}),
            Reply(201, {"sid": "SM0042"}),
        ]
    )
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        for kind, to in (("sms", PHONE), ("sms", PHONE), ("email", EMAIL)):
            await service.send_login_code(
                uow,
                tenant_id=tenant.id,
                destination=to,
                kind=kind,
                code=CODE,
                locale="en",
                minutes=10,
            )

    admin = await make_staff(clean_db, settings, tenant, role="national_admin")
    auth = bearer(str((await api_login(client, admin))["access_token"]))
    url = f"/api/v1/{code}/notifications/test"
    ok = await client.post(url, json={"to": EMAIL}, headers=auth)
    bad = await client.post(url, json={"to": "+1 416 555"}, headers=auth)
    assert (ok.status_code, bad.status_code) == (202, 422)
    await run_worker(clean_db, cache, fast)
    report = {"MessageSid": "SM0042", "MessageStatus": "delivered", "To": PHONE}
    signature = twilio_signature("twilio-secret", callback, list(report.items()))
    delivered = await client.post(
        f"/api/v1/{code}/notifications/callbacks/twilio",
        content=urllib.parse.urlencode(report),
        headers={"X-Twilio-Signature": signature},
    )
    assert delivered.status_code == 204

    assert len(mailbox.messages) == 2  # it all happened
    assert len(http_peer.peer.requests) == 2
    log = captured_log.getvalue()
    events = [orjson.loads(line)["event"] for line in log.splitlines() if line.startswith("{")]
    assert events.count("notification.queued") == 4
    assert events.count("notification.send") == 4
    assert "notification.delivery_report" in events
    for secret in (PHONE, PHONE.lstrip("+"), "4165550142", EMAIL, "fatou", CODE):
        assert secret not in log, secret
    # Not even masked: our own events carry no personal data to begin with. (An SMTP
    # Message-ID, <hash@sender-domain>, looks like an address to the scrubber.)
    masks = ("[redacted]", "[otp]", "[phone]", "[email]", "[id]", "[token]")
    for line in log.splitlines():
        if '"notification.' not in line:
            continue
        event = orjson.loads(line)
        if event.get("channel_type") == "smtp":
            event.pop("provider_message_id")
        assert not [m for m in masks if m in orjson.dumps(event).decode()], event
