"""Where a staff account may be placed, and whether an admin may place it there.

Roles have allowed scopes (``policy.ROLE_SCOPES``); a facility scope is validated and
placed in the facility's region through a resolver the facilities context installs.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from vaxport.core.errors import ValidationFailed, field_error, invalid
from vaxport.identity.access import policy
from vaxport.identity.access.actor import Actor
from vaxport.identity.access.policy import Resource
from vaxport.tenancy.service import TenantInfo

# Installed by the facilities context: the region a facility lies in (None: unknown).
FacilityRegion = Callable[[uuid.UUID, uuid.UUID], Awaitable[str | None]]
_facility_region: FacilityRegion | None = None


def facility_region_resolver() -> FacilityRegion | None:
    """The installed resolver, if any."""
    return _facility_region


def set_facility_region_resolver(resolver: FacilityRegion | None) -> None:
    """Let staff scoped to a facility be placed in its region (and validated)."""
    global _facility_region  # noqa: PLW0603 - one process-wide hook, installed at start-up
    _facility_region = resolver


async def placement(
    tenant: TenantInfo, role: str, region_code: str | None, facility_id: uuid.UUID | None
) -> tuple[str | None, uuid.UUID | None]:
    """Validate a role's scope; the region to store (a facility's own region if known)."""
    if role not in policy.STAFF_ROLES:
        raise invalid("role", f"must be one of {', '.join(policy.STAFF_ROLES)}")
    if region_code is not None and facility_id is not None:
        raise invalid("facility_id", "give a region or a facility, not both")
    kind: policy.ScopeKind = (
        "facility" if facility_id is not None else "region" if region_code else "national"
    )
    allowed = policy.ROLE_SCOPES[role]
    if kind not in allowed:
        field = "facility_id" if "facility" in allowed else "region_code"
        raise invalid(field, f"a {role} needs a {' or '.join(allowed)} scope")
    if region_code is not None and region_code not in tenant.config.region_index:
        raise invalid("region_code", "unknown region")
    if facility_id is not None and _facility_region is not None:
        region_code = await _facility_region(tenant.id, facility_id)
        if region_code is None:
            raise invalid("facility_id", "unknown facility")
    return region_code, facility_id


def check_manage(actor: Actor | None, role: str, target: Resource) -> None:
    """An admin may give this role at this place (None: the command line, trusted)."""
    if actor is None:
        return
    if not policy.may_assign(actor, role):
        raise ValidationFailed(
            "you may not give this role", errors=[field_error("role", "not assignable by you")]
        )
    if not policy.can(actor, "staff:manage", target):
        raise ValidationFailed(
            "outside your jurisdiction",
            errors=[field_error("region_code", "outside your jurisdiction")],
        )
