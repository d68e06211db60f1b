"""The one permission table, and the one function that decides: :func:`can`.

A decision has two halves:

1. **Role**: does the actor's role hold the permission at all? (``TABLE``)
2. **Scope**: is the object inside the actor's reach? Same tenant always; then, by the
   permission's *reach*:

   - ``tenant``: any object of the actor's tenant (configuration, reading one's tenant);
   - ``national``: only actors with national scope (the audit log, tenant settings);
   - ``jurisdiction``: national actors reach everything of the tenant, region actors the
     objects located in their region subtree, facility actors the objects of their
     facility; an object whose location is unknown is out of reach (fail closed);
   - ``own``: objects owned by the actor (self-service, citizens' own records).

   Citizens hold only ``own`` reach whatever the permission says: their records are
   the ones they own.

Routes declare the permission (``requires("staff:read")``) which checks the role half;
services check the scope half on each object (:func:`authorize`) and filter lists by the
actor's scope. Out-of-scope objects are reported as missing (404), never as forbidden.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal, Protocol

from vaxport.core.errors import NotFound
from vaxport.core.i18n import N_

Reach = Literal["tenant", "national", "jurisdiction", "own"]

NATIONAL_ADMIN = "national_admin"
REGION_ADMIN = "region_admin"
FACILITY_MANAGER = "facility_manager"
VACCINATOR = "vaccinator"
ANALYST = "analyst"
AUDITOR = "auditor"
SUPPORT = "support"
CITIZEN = "citizen"
OPERATOR = "operator"

ROLES: tuple[str, ...] = (
    NATIONAL_ADMIN,
    REGION_ADMIN,
    FACILITY_MANAGER,
    VACCINATOR,
    ANALYST,
    AUDITOR,
    SUPPORT,
    CITIZEN,
    OPERATOR,
)
STAFF_ROLES: tuple[str, ...] = tuple(r for r in ROLES if r != CITIZEN)


@dataclass(frozen=True, slots=True)
class Permission:
    """One permission: its reach, and whether it exposes personal data."""

    reach: Reach
    personal: bool
    description: str


PERMISSIONS: dict[str, Permission] = {
    "self:read": Permission("own", True, "read one's own account"),
    "self:write": Permission("own", True, "change one's own contact details and MFA"),
    "beneficiaries:read": Permission("jurisdiction", True, "find and read people"),
    "beneficiaries:write": Permission("jurisdiction", True, "register and correct people"),
    "beneficiaries:approve": Permission(
        "jurisdiction", True, "approve or reject corrections people ask for"
    ),
    "appointments:read": Permission("jurisdiction", True, "read bookings"),
    "appointments:write": Permission("jurisdiction", True, "book, reschedule, cancel"),
    "slots:write": Permission("jurisdiction", False, "publish sessions and slots"),
    "doses:read": Permission("jurisdiction", True, "read dose records and AEFI"),
    "doses:write": Permission("jurisdiction", True, "record doses and adverse events"),
    "doses:correct": Permission(
        "jurisdiction", True, "correct or void dose records past the recorder's window"
    ),
    "doses:void-approve": Permission(
        "jurisdiction", True, "approve another's void of a dose that has a certificate"
    ),
    "lots:read": Permission("tenant", False, "read vaccine lots"),
    "lots:write": Permission(
        "tenant", True, "register, correct and hold lots; list who received one"
    ),
    "aefi:report": Permission("own", True, "report an adverse event after a member's dose"),
    "aefi:triage": Permission("jurisdiction", True, "triage adverse event reports"),
    "certificates:read": Permission("jurisdiction", True, "read certificates"),
    "certificates:revoke": Permission("jurisdiction", True, "revoke certificates"),
    "facilities:read": Permission("jurisdiction", False, "read vaccination centres"),
    "facilities:write": Permission("jurisdiction", False, "create and change centres"),
    "staff:read": Permission("jurisdiction", True, "list and read staff accounts"),
    "staff:manage": Permission("jurisdiction", True, "invite, disable, reset staff"),
    "messages:read": Permission("jurisdiction", True, "read notifications sent"),
    "notifications:preferences:read": Permission(
        "jurisdiction", True, "read a person's notification preferences"
    ),
    "notifications:preferences:write": Permission(
        "jurisdiction", True, "change a person's notification preferences"
    ),
    "notifications:test": Permission("national", False, "send a test message via a channel"),
    "reports:read": Permission("jurisdiction", False, "aggregate dashboards and reports"),
    "config:read": Permission("tenant", False, "read the tenant's configuration"),
    "config:write": Permission("national", False, "load the tenant's configuration"),
    "audit:read": Permission("national", False, "read the audit log"),
    "accounts:recoveries": Permission(
        "tenant", False, "see when citizen accounts were recovered (no phone numbers)"
    ),
    "tenants:manage": Permission("national", False, "operate the tenant (keys, loads)"),
    "trust:manage": Permission(
        "national", False, "import foreign certificate signers and their revocations"
    ),
}

_SELF = {"self:read", "self:write"}

TABLE: dict[str, frozenset[str]] = {
    NATIONAL_ADMIN: frozenset(
        _SELF
        | {
            "beneficiaries:read",
            "beneficiaries:write",
            "beneficiaries:approve",
            "appointments:read",
            "appointments:write",
            "slots:write",
            "doses:read",
            "doses:correct",
            "doses:void-approve",
            "lots:read",
            "lots:write",
            "aefi:triage",
            "certificates:read",
            "certificates:revoke",
            "facilities:read",
            "facilities:write",
            "staff:read",
            "staff:manage",
            "messages:read",
            "notifications:preferences:read",
            "notifications:test",
            "reports:read",
            "config:read",
            "config:write",
            "audit:read",
            "accounts:recoveries",
            "trust:manage",
        }
    ),
    REGION_ADMIN: frozenset(
        _SELF
        | {
            "beneficiaries:read",
            "beneficiaries:write",
            "beneficiaries:approve",
            "appointments:read",
            "appointments:write",
            "slots:write",
            "doses:read",
            "doses:correct",
            "doses:void-approve",
            "lots:read",
            "lots:write",
            "aefi:triage",
            "certificates:read",
            "facilities:read",
            "facilities:write",
            "staff:read",
            "staff:manage",
            "messages:read",
            "reports:read",
            "config:read",
        }
    ),
    FACILITY_MANAGER: frozenset(
        _SELF
        | {
            "beneficiaries:read",
            "beneficiaries:approve",
            "appointments:read",
            "appointments:write",
            "slots:write",
            "doses:read",
            "doses:correct",
            "doses:void-approve",
            "lots:read",
            "aefi:triage",
            "certificates:read",
            "facilities:read",
            "staff:read",
            "staff:manage",
            "reports:read",
            "config:read",
        }
    ),
    VACCINATOR: frozenset(
        _SELF
        | {
            "beneficiaries:read",
            "beneficiaries:write",
            "appointments:read",
            "appointments:write",
            "doses:read",
            "lots:read",
            "aefi:triage",
            "doses:write",
            "certificates:read",
            "facilities:read",
            "config:read",
        }
    ),
    ANALYST: frozenset(_SELF | {"reports:read", "facilities:read", "config:read"}),
    AUDITOR: frozenset(_SELF | {"audit:read", "config:read", "accounts:recoveries"}),
    SUPPORT: frozenset(
        _SELF
        | {
            "beneficiaries:read",
            "appointments:read",
            "appointments:write",
            "certificates:read",
            "messages:read",
            "notifications:preferences:read",
            "notifications:preferences:write",
            "facilities:read",
            "config:read",
            "accounts:recoveries",
        }
    ),
    CITIZEN: frozenset(
        _SELF
        | {
            "beneficiaries:read",
            "beneficiaries:write",
            "appointments:read",
            "appointments:write",
            # Their members' dose records (own reach, as every citizen permission).
            "doses:read",
            "aefi:report",
            "certificates:read",
            "notifications:preferences:read",
            "notifications:preferences:write",
            "config:read",
        }
    ),
    OPERATOR: frozenset(
        _SELF | {"tenants:manage", "config:read", "config:write", "notifications:test"}
    ),
}

# Which roles an account of a role may give (invite, change to); nobody grants more
# than they hold, and operators are made only from the command line.
ASSIGNABLE: dict[str, frozenset[str]] = {
    NATIONAL_ADMIN: frozenset(
        {NATIONAL_ADMIN, REGION_ADMIN, FACILITY_MANAGER, VACCINATOR, ANALYST, AUDITOR, SUPPORT}
    ),
    REGION_ADMIN: frozenset({FACILITY_MANAGER, VACCINATOR, ANALYST, SUPPORT}),
    FACILITY_MANAGER: frozenset({VACCINATOR}),
}

ScopeKind = Literal["national", "region", "facility"]

# The scopes each staff role may have (first: the usual one).
ROLE_SCOPES: dict[str, tuple[ScopeKind, ...]] = {
    NATIONAL_ADMIN: ("national",),
    REGION_ADMIN: ("region",),
    FACILITY_MANAGER: ("facility",),
    VACCINATOR: ("facility", "region"),
    ANALYST: ("national", "region"),
    AUDITOR: ("national",),
    SUPPORT: ("national", "region"),
    OPERATOR: ("national",),
}


def requires_mfa(role: str) -> bool:
    """A second factor is required for staff roles that see personal data or administer."""
    if role == CITIZEN:
        return False  # citizens log in with one-time codes, a possession factor already
    return any(
        PERMISSIONS[p].personal or p.endswith((":write", ":manage", ":revoke"))
        for p in TABLE[role] - _SELF
    )


def held_during_recovery(permission: str) -> bool:
    """Whether a just-recovered account waits before using ``permission``: every one
    exposing personal data except the account's own (it may still see and fix itself)."""
    spec = PERMISSIONS.get(permission)
    return spec is not None and spec.personal and permission not in _SELF


def has_permission(role: str, permission: str) -> bool:
    """The role half of a decision."""
    return permission in TABLE.get(role, frozenset())


class Subject(Protocol):
    """What :func:`can` needs to know about who acts (``identity.access.actor.Actor`` is one)."""

    @property
    def account_id(self) -> uuid.UUID: ...
    @property
    def tenant_id(self) -> uuid.UUID: ...
    @property
    def role(self) -> str: ...
    @property
    def facility_id(self) -> uuid.UUID | None: ...
    @property
    def is_national(self) -> bool: ...
    def covers_region(self, code: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Resource:
    """Where an object sits: its tenant and, as known, its region, facility and owner.

    A facility's objects carry the facility's region too, so region actors reach them.
    """

    tenant_id: uuid.UUID
    region_code: str | None = None
    facility_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None


def can(actor: Subject, permission: str, resource: Resource) -> bool:
    """Whether ``actor`` may exercise ``permission`` on ``resource`` (both halves)."""
    spec = PERMISSIONS.get(permission)
    if (
        spec is None
        or not has_permission(actor.role, permission)
        or resource.tenant_id != actor.tenant_id
    ):
        return False
    reach = "own" if actor.role == CITIZEN else spec.reach
    if reach == "own":
        return resource.owner_id is not None and resource.owner_id == actor.account_id
    if reach == "tenant" or actor.is_national:
        return True
    return reach == "jurisdiction" and in_jurisdiction(actor, resource)


def in_jurisdiction(actor: Subject, resource: Resource) -> bool:
    """Whether a located object lies in a (non-national) actor's region or facility."""
    if actor.facility_id is not None:
        return resource.facility_id is not None and resource.facility_id == actor.facility_id
    return resource.region_code is not None and actor.covers_region(resource.region_code)


# What :func:`authorize` says is missing, by the ``what`` callers name.
_NOT_FOUND = {
    "audit log": N_("audit log not found"),
    "beneficiary": N_("beneficiary not found"),
    "message": N_("message not found"),
    "person": N_("person not found"),
    "staff member": N_("staff member not found"),
    "tenant": N_("tenant not found"),
}


def authorize(actor: Subject, permission: str, resource: Resource, *, what: str = "object") -> None:
    """Raise NotFound (404) unless :func:`can` allows: out of scope looks like missing."""
    if not can(actor, permission, resource):
        raise NotFound(_NOT_FOUND.get(what, N_("not found")))


def may_assign(actor: Subject, role: str) -> bool:
    """Whether ``actor`` may give ``role`` to someone (invite or change)."""
    return role in ASSIGNABLE.get(actor.role, frozenset())


_SHORT = {
    NATIONAL_ADMIN: "nat",
    REGION_ADMIN: "reg",
    FACILITY_MANAGER: "fac",
    VACCINATOR: "vac",
    ANALYST: "ana",
    AUDITOR: "aud",
    SUPPORT: "sup",
    CITIZEN: "cit",
    OPERATOR: "ops",
}


def table_markdown() -> str:
    """The permission table as Markdown (``docs/identity.md`` shows it; a test compares)."""
    head = "| permission | reach | personal | " + " | ".join(_SHORT[r] for r in ROLES) + " |"
    lines = [head, "|---|---|---|" + "---|" * len(ROLES)]
    for name, spec in PERMISSIONS.items():
        marks = " | ".join("✓" if name in TABLE[r] else "" for r in ROLES)
        personal = "yes" if spec.personal else "no"
        lines.append(f"| `{name}` | {spec.reach} | {personal} | {marks} |")
    return "\n".join(lines)
