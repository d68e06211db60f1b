"""Dates as the server reads them: a tenant's "today" is in its own time zone.

The demo country's is America/Toronto, five hours behind UTC: from midnight UTC until
05:00 the machine's ``date.today()`` is the tenant's tomorrow, and a test that meant
"yesterday" or "today" by it asked for the wrong day (CI's failures at 00:11 UTC).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from vaxport.tenancy.schemas import TenantInfo


def tenant_today(tenant: TenantInfo) -> dt.date:
    """Today's date in ``tenant``'s time zone."""
    return dt.datetime.now(dt.UTC).astimezone(ZoneInfo(tenant.config.timezone)).date()
