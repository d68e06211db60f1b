"""Fixtures of the appointment-message tests: the notification tests' real peers (a
loopback SMS gateway, an aiosmtpd server), and a tenant whose channels point at them."""

from __future__ import annotations

import uuid

import pytest

from tests.notifications import conftest as notification_fixtures
from tests.notifications.dispatch_support import notifications, sms_http, smtp, tenant_with
from tests.notifications.peers import Mailbox, RunningHttpPeer
from tests.registration.conftest import make_facility
from tests.scheduling.conftest import REGION
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.tenancy.schemas import TenantInfo

# The notification tests' peers and settings, as fixtures of these tests too.
_http_server = notification_fixtures._http_server
_plain_smtp = notification_fixtures._plain_smtp
http_peer = notification_fixtures.http_peer
smtp_server = notification_fixtures.smtp_server
dispatch_env = notification_fixtures.dispatch_env
fast = notification_fixtures.fast


@pytest.fixture
async def tenant(
    clean_db: Database,
    http_peer: RunningHttpPeer,
    smtp_server: tuple[Mailbox, int],
    dispatch_env: None,
) -> TenantInfo:
    """The demo country (en + fr, America/Toronto) sending SMS to the loopback gateway and
    e-mail to the SMTP server."""
    _, port = smtp_server
    section = notifications(sms_http(http_peer.url), smtp(port), sms="gateway", email="mail")
    return await tenant_with(clean_db, section)


@pytest.fixture
async def centre(clean_db: Database, cache: Cache, tenant: TenantInfo) -> uuid.UUID:
    """Hillcrest Health Centre (Centre de santé de Hillcrest), 12 Main Street."""
    return await make_facility(clean_db, cache, tenant, code="HC-1", region_code=REGION)
