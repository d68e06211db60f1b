"""The authorization matrix, generated from the permission table.

Every role x every permission x four situations (the object in the actor's scope, in
another region, at another facility, in another tenant): through HTTP where a route
expresses the situation, through ``policy.can`` everywhere. The expectations are
stated here from the table's data and the scope rules, independently of ``can``.

Actors log in for real (password + TOTP where required); the citizen is an account of
kind ``citizen`` with a session of its own, as the citizen login will make them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, truncate_all
from tests.identity.helpers import actor_for, api_login, bearer, make_staff
from tests.support.parts import PARTS
from tests.support.tenants import load_tenant
from vaxport import wiring
from vaxport.app import create_app
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.db import Database
from vaxport.identity.access import policy
from vaxport.identity.access.policy import PERMISSIONS, ROLES, TABLE, Resource
from vaxport.identity.credentials import sessions
from vaxport.identity.models import Account
from vaxport.identity.staff import admin as staff
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

SITUATIONS = ("in_scope", "other_region", "other_facility", "other_tenant")
REGION, SUBREGION, OTHER_REGION = "NOR", "NOR-01", "SOU-01"
F_HERE, F_OTHER_REGION, F_SAME_REGION = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
FACILITY_REGION = {F_HERE: SUBREGION, F_SAME_REGION: SUBREGION, F_OTHER_REGION: OTHER_REGION}

# Each role's scope in this matrix (the usual one; analysts and support get a region to
# exercise region reach on read-only roles too).
SCOPE: dict[str, tuple[str | None, uuid.UUID | None]] = {
    "national_admin": (None, None),
    "region_admin": (REGION, None),
    "facility_manager": (None, F_HERE),
    "vaccinator": (None, F_HERE),
    "analyst": (REGION, None),
    "auditor": (None, None),
    "support": (REGION, None),
    "operator": (None, None),
    "citizen": (None, None),
}


def scope_kind(role: str) -> str:
    if role == "citizen":
        return "self"
    region, facility = SCOPE[role]
    return "facility" if facility else "region" if region else "national"


def expected(role: str, permission: str, situation: str) -> bool:
    """The decision the permission table and the scope rules call for."""
    if permission not in TABLE[role] or situation == "other_tenant":
        return False
    kind = scope_kind(role)
    reach = "own" if kind == "self" else PERMISSIONS[permission].reach
    if reach == "own":
        return situation == "in_scope"  # only the actor's own objects
    if reach == "tenant":
        return True
    if reach == "national":
        return kind == "national"
    return {
        "national": True,
        "region": situation in ("in_scope", "other_facility"),
        "facility": situation == "in_scope",
    }[kind]


def test_every_role_and_permission_is_in_the_table() -> None:
    assert set(TABLE) == set(ROLES)
    for role, perms in TABLE.items():
        assert perms <= set(PERMISSIONS), role
    # Operators read no personal data; every role may see its own account.
    assert not any(PERMISSIONS[p].personal for p in TABLE["operator"] - {"self:read", "self:write"})
    assert all({"self:read", "self:write"} <= TABLE[r] for r in ROLES)


def test_second_factor_is_required_for_roles_that_see_personal_data() -> None:
    for role in policy.STAFF_ROLES:
        personal = any(PERMISSIONS[p].personal for p in TABLE[role] - {"self:read", "self:write"})
        if personal:
            assert policy.requires_mfa(role), role
    assert {r for r in policy.STAFF_ROLES if not policy.requires_mfa(r)} == {"analyst", "auditor"}


def _resources(me: uuid.UUID, tenant: uuid.UUID, other_tenant: uuid.UUID) -> dict[str, Resource]:
    return {
        "in_scope": Resource(tenant, SUBREGION, F_HERE, owner_id=me),
        "other_region": Resource(tenant, OTHER_REGION, F_OTHER_REGION, owner_id=uuid.uuid4()),
        "other_facility": Resource(tenant, SUBREGION, F_SAME_REGION, owner_id=uuid.uuid4()),
        "other_tenant": Resource(other_tenant, SUBREGION, F_HERE, owner_id=me),
    }


@pytest.mark.parametrize("role", ROLES)
async def test_can_matches_the_matrix_for_every_permission_and_situation(
    role: str, tenant: TenantInfo
) -> None:
    region, facility = SCOPE[role]
    actor = actor_for(
        tenant,
        role,
        region_code=region,
        facility_id=facility,
        kind="citizen" if role == "citizen" else "staff",
    )
    resources = _resources(actor.account_id, tenant.id, uuid.uuid4())
    wrong = [
        (permission, situation, policy.can(actor, permission, resources[situation]))
        for permission in PERMISSIONS
        for situation in SITUATIONS
        if policy.can(actor, permission, resources[situation])
        != expected(role, permission, situation)
    ]
    assert wrong == []


# --------------------------------------------------------------------------- HTTP


@dataclass
class World:
    client: httpx.AsyncClient
    tenant: TenantInfo
    other: TenantInfo
    tokens: dict[str, str]
    targets: dict[str, uuid.UUID]  # situation -> a vaccinator placed accordingly


async def _citizen_token(db: Database, settings: Settings, tenant: TenantInfo) -> str:
    """A citizen account and an API session, as the one-time-code login will make them."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        citizen = Account(tenant_id=tenant.id, kind="citizen", role="citizen", token_version=1)
        citizen.phone = "+14165550123"
        uow.session.add(citizen)
        await uow.session.flush()
        grant = await sessions.open_api_session(
            uow, settings=settings, account=citizen, amr=["otp"]
        )
    pair = await sessions.issue_pair(db=db, settings=settings, grant=grant, tenant_code=tenant.code)
    return pair.access_token


@pytest.fixture(scope="module")
async def world(
    db: Database,
    owner_db: Database,
    app_database_url: str,
    key_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[World]:
    settings = Settings(
        env="test",
        data_dir=tmp_path_factory.mktemp("matrix"),
        database_url=app_database_url,
        countries_dir=ROOT / "countries",
        key_file=key_file,
    )

    async def facility_region(_db: Database, _tenant: uuid.UUID, facility: uuid.UUID) -> str | None:
        return FACILITY_REGION.get(facility)

    assert PARTS.identity_ports is not None
    parts = replace(
        PARTS, identity_ports=replace(PARTS.identity_ports, facility_region=facility_region)
    )
    try:
        tenant, other = await load_tenant(db), await load_tenant(db)
        app = create_app(settings, parts=parts, database=db, cache=Cache(MemoryBackend()))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            tokens: dict[str, str] = {}
            for role in ROLES:
                if role == "citizen":
                    tokens[role] = await _citizen_token(db, settings, tenant)
                    continue
                region, facility = SCOPE[role]
                person = await make_staff(
                    db, settings, tenant, role=role, region_code=region, facility_id=facility
                )
                tokens[role] = (await api_login(client, person))["access_token"]
            targets = {}
            for situation, (where, facility) in {
                "in_scope": (tenant, F_HERE),
                "other_region": (tenant, F_OTHER_REGION),
                "other_facility": (tenant, F_SAME_REGION),
                "other_tenant": (other, F_HERE),
            }.items():
                made = await staff.create_staff(
                    db=db,
                    settings=settings,
                    tenant=where,
                    actor=None,
                    username=f"target-{situation.replace('_', '-')}",
                    role="vaccinator",
                    facility_id=facility,
                )
                targets[situation] = made.account.id
            yield World(client, tenant, other, tokens, targets)
    finally:
        wiring.install(PARTS)
        await truncate_all(owner_db)


def _probe(world: World, permission: str, situation: str) -> tuple[str, str] | None:
    """(method, path) exercising ``permission`` in ``situation``, if a route exists."""
    code = world.other.code if situation == "other_tenant" else world.tenant.code
    target = world.targets[situation]
    if permission == "staff:read":
        return "GET", f"/api/v1/{code}/staff/{target}"
    if permission == "staff:manage":
        # Enabling an enabled account changes nothing: a safe probe of the permission.
        return "POST", f"/api/v1/{code}/staff/{target}/enable"
    if permission == "audit:read" and situation in ("in_scope", "other_tenant"):
        return "GET", f"/api/v1/{code}/audit"
    if permission == "self:read" and situation in ("in_scope", "other_tenant"):
        return "GET", f"/api/v1/{code}/me"
    return None


HTTP_CASES = [
    (role, permission, situation)
    for role in ROLES
    for permission in ("staff:read", "staff:manage", "audit:read", "self:read")
    for situation in SITUATIONS
    if not (
        permission in ("audit:read", "self:read")
        and situation in ("other_region", "other_facility")
    )
]


@pytest.mark.parametrize(("role", "permission", "situation"), HTTP_CASES)
async def test_http_matches_the_matrix(
    world: World, role: str, permission: str, situation: str
) -> None:
    probe = _probe(world, permission, situation)
    assert probe is not None
    method, path = probe
    r = await world.client.request(method, path, headers=bearer(world.tokens[role]))
    if situation == "other_tenant":
        want = 404  # another tenant's objects do not exist for this actor
    elif permission not in TABLE[role]:
        want = 403
    else:
        want = 200 if expected(role, permission, situation) else 404
    assert r.status_code == want, (role, permission, situation, r.text)


def test_matrix_actors_are_what_the_policy_module_describes() -> None:
    # The scopes used above are ones the roles may have.
    for role, (region, facility) in SCOPE.items():
        if role == "citizen":
            continue
        kind = "facility" if facility else "region" if region else "national"
        assert kind in policy.ROLE_SCOPES[role], role


def test_the_operator_guide_shows_the_current_permission_table() -> None:
    doc = (ROOT / "docs" / "identity.md").read_text()
    block = doc.split("-->\n", 1)[1].split("\n<!-- /permission-table -->", 1)[0]
    assert block == policy.table_markdown()
