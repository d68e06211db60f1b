"""Who is acting: the authenticated principal every service receives.

Routes get it with the ``CurrentActor`` dependency (``identity.deps``) and pass it to
services; services decide with ``policy.can``/``policy.authorize`` and filter lists with
:meth:`Actor.region_filter_codes` / :attr:`Actor.facility_id`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Literal

from vaxport.core.principal import Principal
from vaxport.identity.access import policy
from vaxport.tenancy.service import TenantInfo

AccountKind = Literal["staff", "citizen"]

_SUBTREES: OrderedDict[tuple[str, str], frozenset[str]] = OrderedDict()
_SUBTREES_MAX = 1024
_lock = threading.Lock()


def region_subtree_codes(tenant: TenantInfo, code: str) -> frozenset[str]:
    """Region codes at or below ``code`` in the tenant's current configuration.

    Memoised per configuration hash (immutable content): computed once per region, not
    once per request.
    """
    key = (tenant.hash, code)
    with _lock:
        hit = _SUBTREES.get(key)
        if hit is not None:
            _SUBTREES.move_to_end(key)
            return hit
    index = tenant.config.region_index
    root = index.get(code)
    codes = (
        frozenset(c for c, r in index.items() if r.path.startswith(root.path))
        if root is not None
        else frozenset()
    )
    with _lock:
        _SUBTREES[key] = codes
        while len(_SUBTREES) > _SUBTREES_MAX:
            _SUBTREES.popitem(last=False)
    return codes


@dataclass(frozen=True, slots=True)
class Actor:
    """An authenticated account acting in its tenant, with its role and jurisdiction.

    Scope: national (no region, no facility), a region subtree, or one facility.
    ``auth_time`` is when the person last proved who they are (password and second
    factor, or one-time code): sensitive changes require it to be recent.
    """

    account_id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_code: str
    kind: AccountKind
    role: str
    region_code: str | None
    facility_id: uuid.UUID | None
    auth_time: dt.datetime
    session_id: uuid.UUID | None = None
    token_version: int = 0
    region_codes: frozenset[str] = field(default=frozenset(), repr=False)
    # After a recovery to a new phone, family records stay out of reach until then.
    recovery_hold_until: dt.datetime | None = None

    def held(self, permission: str, *, now: dt.datetime) -> bool:
        """Whether ``permission`` waits for the account's recovery hold to lapse."""
        return (
            self.recovery_hold_until is not None
            and self.recovery_hold_until > now
            and policy.held_during_recovery(permission)
        )

    def with_regions(self, tenant: TenantInfo) -> Actor:
        """This actor with its region subtree resolved from the tenant's configuration."""
        if self.region_code is None or self.facility_id is not None:
            return self
        return dataclasses.replace(
            self, region_codes=region_subtree_codes(tenant, self.region_code)
        )

    @property
    def principal(self) -> Principal:
        """This actor as core's writers (the audit log) name who acts."""
        return Principal(self.account_id, self.role, self.kind)

    @property
    def roles(self) -> tuple[str, ...]:
        """Every role the actor holds (one per account today; tokens carry a list)."""
        return (self.role,)

    @property
    def is_national(self) -> bool:
        """Scope over the whole tenant (staff without region or facility)."""
        return self.kind == "staff" and self.region_code is None and self.facility_id is None

    @property
    def scope(self) -> str:
        """The scope as tokens carry it: ``national``, ``region:<code>``, ``facility:<id>``."""
        if self.kind == "citizen":
            return "self"
        if self.facility_id is not None:
            return f"facility:{self.facility_id}"
        if self.region_code is not None:
            return f"region:{self.region_code}"
        return "national"

    def has(self, permission: str) -> bool:
        """Whether the actor's role holds ``permission`` (the role half only)."""
        return policy.has_permission(self.role, permission)

    def covers_region(self, code: str) -> bool:
        """Whether region ``code`` lies in the actor's jurisdiction."""
        if self.is_national:
            return True
        return code in self.region_codes

    def places_region(self, tenant: TenantInfo, code: str) -> bool:
        """Whether the actor may put something in region ``code`` (register or move it
        there): national staff anywhere, region staff in their subtree, facility staff in
        their facility's region subtree (as they place facilities). A facility's object
        stays theirs wherever its region says; moving it changes which region's staff
        answer for it, so the destination must be theirs too (issue 12)."""
        if self.kind != "staff":
            return False
        if self.is_national:
            return True
        if self.region_code is None:
            return False
        return code in (self.region_codes or region_subtree_codes(tenant, self.region_code))

    def region_filter_codes(self) -> frozenset[str] | None:
        """Region codes a list query must be limited to (``None``: no region limit).

        Facility-scoped actors get the empty set: filter them by :attr:`facility_id`.
        """
        if self.is_national:
            return None
        return self.region_codes

    def authenticated_within(self, seconds: float, *, now: dt.datetime) -> bool:
        """Whether the person proved who they are in the last ``seconds``."""
        return (now - self.auth_time).total_seconds() <= seconds
