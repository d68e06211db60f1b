"""Where a staff account may be placed, and whether an admin may place it there.

Roles have allowed scopes (``policy.ROLE_SCOPES``); a facility scope is validated and
placed in the facility's region through the ``facility_region`` port (facilities answers).
"""

from __future__ import annotations

import uuid

from vaxport.core.db import Database
from vaxport.core.errors import ONE_OF, ValidationFailed, field_error, invalid
from vaxport.core.i18n import N_
from vaxport.identity.access import policy
from vaxport.identity.access.actor import Actor
from vaxport.identity.access.policy import Resource
from vaxport.identity.ports import ports
from vaxport.tenancy.service import TenantInfo


async def placement(
    tenant: TenantInfo,
    role: str,
    region_code: str | None,
    facility_id: uuid.UUID | None,
    *,
    db: Database,
) -> tuple[str | None, uuid.UUID | None]:
    """Validate a role's scope; the region to store (a facility's own region if known)."""
    if role not in policy.STAFF_ROLES:
        raise invalid("role", ONE_OF, choices=", ".join(policy.STAFF_ROLES))
    if region_code is not None and facility_id is not None:
        raise invalid("facility_id", N_("give a region or a facility, not both"))
    kind: policy.ScopeKind = (
        "facility" if facility_id is not None else "region" if region_code else "national"
    )
    allowed = policy.ROLE_SCOPES[role]
    if kind not in allowed:
        field = "facility_id" if "facility" in allowed else "region_code"
        raise invalid(
            field,
            N_("a {role} needs a {scopes} scope"),
            code="scope-does-not-fit-the-role",
            role=role,
            scopes=" or ".join(allowed),
        )
    if region_code is not None and region_code not in tenant.config.region_index:
        raise invalid("region_code", N_("unknown region"))
    facility_region = ports().facility_region
    if facility_id is not None and facility_region is not None:
        region_code = await facility_region(db, tenant.id, facility_id)
        if region_code is None:
            raise invalid("facility_id", N_("unknown facility"))
    return region_code, facility_id


def check_manage(actor: Actor | None, role: str, target: Resource) -> None:
    """An admin may give this role at this place (None: the command line, trusted)."""
    if actor is None:
        return
    if not policy.may_assign(actor, role):
        raise ValidationFailed(
            N_("you may not give this role"),
            errors=[field_error("role", N_("not assignable by you"))],
        )
    if not policy.can(actor, "staff:manage", target):
        raise ValidationFailed(
            N_("outside your jurisdiction"),
            errors=[field_error("region_code", N_("outside your jurisdiction"))],
        )
