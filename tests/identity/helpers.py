"""Staff accounts made the way people get them: invited, activated, TOTP enrolled."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from vaxport.core import clock
from vaxport.core.db import Database
from vaxport.identity.access.actor import Actor
from vaxport.identity.login import enrolment, totp
from vaxport.identity.staff import account
from vaxport.identity.staff import admin as staff
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

PASSWORD = "orchid lantern quietly 47"


@dataclass
class Staff:
    """A staff member's credentials and ids."""

    id: uuid.UUID
    username: str
    role: str
    tenant: TenantInfo
    password: str = PASSWORD
    totp_secret: str | None = None
    region_code: str | None = None
    facility_id: uuid.UUID | None = None

    def code(self, when: dt.datetime | None = None) -> str:
        """The TOTP code of ``when`` (now by default)."""
        assert self.totp_secret is not None
        return totp.code_at(self.totp_secret, when or clock.utcnow())


async def make_staff(
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    *,
    role: str,
    username: str | None = None,
    region_code: str | None = None,
    facility_id: uuid.UUID | None = None,
    enrol: bool = True,
    **extra: Any,
) -> Staff:
    """Invite, activate and (when ``enrol`` and required) enrol a staff member."""
    username = username or f"{role.replace('_', '')[:10]}{uuid.uuid4().hex[:6]}"
    made = await staff.create_staff(
        db=db,
        settings=settings,
        tenant=tenant,
        actor=None,
        username=username,
        role=role,
        region_code=region_code,
        facility_id=facility_id,
        **extra,
    )
    person = Staff(
        id=made.account.id,
        username=username,
        role=role,
        tenant=tenant,
        region_code=made.account.region_code,
        facility_id=facility_id,
    )
    outcome = await account.activate(
        db=db,
        settings=settings,
        tenant=tenant,
        token=made.token,
        password=PASSWORD,
        client_ip="192.0.2.1",
        channel="api",
    )
    if outcome.status == "enrolment_required" and enrol:
        assert outcome.ticket is not None
        pending = await enrolment.start_enrolment(
            db=db, settings=settings, tenant=tenant, ticket=outcome.ticket
        )
        person.totp_secret = pending.secret
        # A code of an earlier step: the step used now must stay free for the test's login.
        from vaxport.core.cache import Cache, MemoryBackend
        from vaxport.core.errors import Unauthorized

        for attempt in range(2):
            # Computed just before the check; if a step boundary still passes in between
            # (a loaded machine), the code is two steps old: take a fresh one, once.
            earlier = clock.utcnow() - dt.timedelta(seconds=totp.STEP_SECONDS)
            try:
                await enrolment.confirm_enrolment(
                    db=db,
                    cache=Cache(MemoryBackend()),
                    settings=settings,
                    tenant=tenant,
                    ticket=outcome.ticket,
                    code=person.code(earlier),
                    client_ip="192.0.2.1",
                    channel="api",
                )
                break
            except Unauthorized:
                if attempt:
                    raise
    return person


async def api_login(client: httpx.AsyncClient, person: Staff) -> dict[str, Any]:
    """Log in through the API (password, then TOTP when enrolled); the token answer."""
    base = f"/api/v1/{person.tenant.code}/auth"
    r = await client.post(
        base + "/login", json={"username": person.username, "password": person.password}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    if body["status"] == "totp_required":
        r = await client.post(
            base + "/second-factor", json={"ticket": body["ticket"], "code": person.code()}
        )
        assert r.status_code == 200, r.text
        body = r.json()
    assert body["status"] == "authenticated", body
    return dict(body)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def actor_for(
    tenant: TenantInfo,
    role: str,
    *,
    region_code: str | None = None,
    facility_id: uuid.UUID | None = None,
    account_id: uuid.UUID | None = None,
    kind: str = "staff",
) -> Actor:
    """An actor as the middleware would build it (for service-level tests)."""
    return Actor(
        account_id=account_id or uuid.uuid4(),
        tenant_id=tenant.id,
        tenant_code=tenant.code,
        kind=kind,  # type: ignore[arg-type]
        role=role,
        region_code=region_code,
        facility_id=facility_id,
        auth_time=clock.utcnow(),
    ).with_regions(tenant)


async def sent_codes(db: Database, tenant_id: uuid.UUID) -> list[str]:
    """The one-time codes queued for the tenant so far, oldest first (as the person reads)."""
    from sqlalchemy import select

    from vaxport.notifications.models import Message

    async with db.read(tenant_id=tenant_id) as s:
        rows = (
            await s.execute(
                select(Message)
                .where(Message.tenant_id == tenant_id, Message.event == "login_code")
                .order_by(Message.id)
            )
        ).scalars()
        return [str(m.data["code"]) for m in rows]


async def last_code(db: Database, tenant_id: uuid.UUID) -> str:
    """The latest one-time code queued for the tenant."""
    return (await sent_codes(db, tenant_id))[-1]
