"""Contact details as staff give them: blank means none, else core's one contact rule."""

from __future__ import annotations

from vaxport.core.contacts import normalise_email as _email
from vaxport.core.contacts import normalise_phone as _phone
from vaxport.tenancy.service import TenantInfo


def normalise_email(value: str | None, *, field: str = "email") -> str | None:
    """A valid e-mail address, trimmed and lower-cased (None or blank is None)."""
    if value is None or not value.strip():
        return None
    return _email(value, field=field)


def normalise_phone(tenant: TenantInfo, value: str | None, *, field: str = "phone") -> str | None:
    """A valid phone number in E.164, national numbers read in the tenant's region."""
    if value is None or not value.strip():
        return None
    return _phone(value, region=tenant.config.phone.default_region, field=field)
