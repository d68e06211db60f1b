"""Fixtures of the admin-message tests: the notification tests' real SMTP server (aiosmtpd)
and a demo tenant whose e-mail goes to it."""

from __future__ import annotations

import uuid

import pytest

from tests.immunization.conftest import REGION
from tests.notifications import conftest as notification_fixtures
from tests.notifications.dispatch_support import notifications, smtp, tenant_with
from tests.notifications.peers import Mailbox
from tests.registration.conftest import make_facility
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.tenancy.schemas import TenantInfo

_plain_smtp = notification_fixtures._plain_smtp
smtp_server = notification_fixtures.smtp_server
dispatch_env = notification_fixtures.dispatch_env
fast = notification_fixtures.fast


@pytest.fixture
async def tenant(
    clean_db: Database, smtp_server: tuple[Mailbox, int], dispatch_env: None
) -> TenantInfo:
    """The demo country sending e-mail to the SMTP server."""
    _, port = smtp_server
    return await tenant_with(clean_db, notifications(smtp(port), email="mail"))


@pytest.fixture
async def centre(clean_db: Database, cache: Cache, tenant: TenantInfo) -> uuid.UUID:
    """A centre in :data:`REGION`."""
    return await make_facility(clean_db, cache, tenant, code="HC-1", region_code=REGION)
