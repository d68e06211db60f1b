"""Demo staff for ``vaxport demo``: a national admin and a vaccinator, ready to log in.

Each run gives them fresh random passwords and TOTP secrets (printed by the demo), so
re-running the demo always prints logins that work. Never used outside the demo.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from vaxport.core import audit, clock
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.db import Database
from vaxport.core.principal import OPERATOR
from vaxport.identity.access import policy
from vaxport.identity.login import passwords, totp
from vaxport.identity.models import STATUS_ACTIVE, Account
from vaxport.tenancy.service import get_tenant_or_404


@dataclass(frozen=True, slots=True)
class DemoLogin:
    """What the demo prints for one account."""

    username: str
    role: str
    password: str
    totp_secret: str
    totp_uri: str
    scope: str
    login_url_path: str
    account_id: uuid.UUID | None = None
    region_code: str | None = None
    facility_id: uuid.UUID | None = None


def _password() -> str:
    while True:
        candidate = "-".join(secrets.token_urlsafe(6) for _ in range(3))
        if not passwords.problems(candidate):
            return candidate


async def create_demo_staff(
    db: Database,
    tenant_code: str,
    *,
    cache: Cache | None = None,
    facility_id: uuid.UUID | None = None,
) -> list[DemoLogin]:
    """Create (or refresh) the demo staff of a tenant; their logins, secrets included.

    The vaccinator works at ``facility_id`` when given, else across the tenant's first
    top-level region.
    """
    tenant = await get_tenant_or_404(db=db, cache=cache or Cache(MemoryBackend()), code=tenant_code)
    top = sorted(c for c, r in tenant.config.region_index.items() if r.path.count("/") == 2)
    plans: list[tuple[str, str, str | None, uuid.UUID | None]] = [
        ("demo.admin", policy.NATIONAL_ADMIN, None, None),
        (
            "demo.vaccinator",
            policy.VACCINATOR,
            None if facility_id else (top[0] if top else None),
            facility_id,
        ),
    ]
    out: list[DemoLogin] = []
    for username, role, region, facility in plans:
        password = _password()
        secret = totp.new_secret()
        hashed = await passwords.hash_password(password)
        async with db.transaction(tenant_id=tenant.id) as uow:
            account = (
                await uow.session.execute(
                    select(Account).where(
                        Account.tenant_id == tenant.id, Account.username == username
                    )
                )
            ).scalar_one_or_none()
            if account is None:
                account = Account(tenant_id=tenant.id, kind="staff", username=username)
                uow.session.add(account)
            account.role, account.region_code, account.facility_id = role, region, facility
            account.status = STATUS_ACTIVE
            account.password_hash = hashed
            account.password_changed_at = clock.utcnow()
            account.totp_secret = secret
            account.totp_pending = None
            account.totp_enabled_at = clock.utcnow()
            account.totp_last_step = None
            account.token_version = (account.token_version or 0) + 1
            account.display_name = f"Demo {role.replace('_', ' ')}"
            await uow.session.flush()
            await audit.record(
                uow,
                by=OPERATOR,
                action="staff.demo_create",
                object_type="account",
                object_id=account.id,
                details={"role": role},
            )
        scope = f"facility:{facility}" if facility else f"region:{region}" if region else "national"
        out.append(
            DemoLogin(
                username=username,
                role=role,
                password=password,
                totp_secret=secret,
                totp_uri=totp.provisioning_uri(
                    secret, account_name=username, issuer=f"vaxport {tenant.name}"
                ),
                scope=scope,
                login_url_path=f"/{tenant.code}/staff/login",
                account_id=account.id,
                region_code=region,
                facility_id=facility,
            )
        )
    return out


DEMO_CITIZEN_PHONE = "+14165550100"
DEMO_CITIZEN_EMAIL = "demo.citizen@example.org"


@dataclass(frozen=True, slots=True)
class DemoCitizen:
    """The demo's citizen: signs in with a code sent to this phone (or e-mail)."""

    phone: str
    email: str
    login_url_path: str
    account_id: uuid.UUID | None = None


async def create_demo_citizen(
    db: Database, tenant_code: str, *, cache: Cache | None = None
) -> DemoCitizen:
    """Make sure the demo citizen account exists (phone and e-mail, for recovery too)."""
    from vaxport.identity.login.citizen import citizen_account_for
    from vaxport.identity.login.otp import Destination

    tenant = await get_tenant_or_404(db=db, cache=cache or Cache(MemoryBackend()), code=tenant_code)
    account, _ = await citizen_account_for(
        db=db, tenant=tenant, dest=Destination("phone", DEMO_CITIZEN_PHONE)
    )
    if account.email is None:
        async with db.transaction(tenant_id=tenant.id) as uow:
            row = await uow.session.get(Account, account.id)
            assert row is not None
            row.email = DEMO_CITIZEN_EMAIL
    return DemoCitizen(
        phone=DEMO_CITIZEN_PHONE,
        email=DEMO_CITIZEN_EMAIL,
        login_url_path=f"/{tenant.code}/sign-in",
        account_id=account.id,
    )
