"""The one-time code primitive: single use, bound to transaction and purpose, tries and
send caps per destination, expiry (moved by hand on ``core.clock``)."""

from __future__ import annotations

import uuid

import pytest

from tests.identity.conftest import Clock
from tests.identity.helpers import last_code
from vaxport.core.db import Database
from vaxport.core.errors import TooManyRequests, ValidationFailed
from vaxport.identity.login import otp
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

PHONE = "+1 416 555 0142"
E164 = "+14165550142"


async def _request(
    db: Database, settings: Settings, tenant: TenantInfo, dest: str = PHONE, **kw: object
) -> uuid.UUID:
    args: dict[str, object] = {"purpose": "login", "client_ip": "192.0.2.9", "locale": "en"}
    args.update(kw)
    return await otp.request_code(
        db=db,
        settings=settings,
        tenant=tenant,
        destination=dest,
        **args,  # type: ignore[arg-type]
    )


async def _verify(
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    tx: uuid.UUID,
    code: str,
    purpose: otp.Purpose = "login",
) -> otp.Destination:
    return await otp.verify_code(
        db=db, settings=settings, tenant=tenant, transaction_id=tx, code=code, purpose=purpose
    )


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


async def test_a_code_proves_the_normalised_destination_once(
    clean_db: Database, settings: Settings, tenant: TenantInfo, frozen: Clock
) -> None:
    tx = await _request(clean_db, settings, tenant, context="bound")
    code = await last_code(clean_db, tenant.id)
    assert len(code) == 6
    assert code.isdigit()
    proven = await _verify(clean_db, settings, tenant, tx, code)
    assert proven == otp.Destination("phone", E164, "bound")
    with pytest.raises(ValidationFailed) as again:
        await _verify(clean_db, settings, tenant, tx, code)
    assert again.value.errors == [{"field": "code", "reason": otp.BAD_CODE}]


async def test_email_destinations_are_lower_cased(
    clean_db: Database, settings: Settings, tenant: TenantInfo, frozen: Clock
) -> None:
    tx = await _request(clean_db, settings, tenant, "Ada.Person@Example.ORG")
    proven = await _verify(clean_db, settings, tenant, tx, await last_code(clean_db, tenant.id))
    assert (proven.kind, proven.value) == ("email", "ada.person@example.org")


async def test_brute_force_stops_after_five_tries_even_for_the_right_code(
    clean_db: Database, settings: Settings, tenant: TenantInfo, frozen: Clock
) -> None:
    tx = await _request(clean_db, settings, tenant)
    code = await last_code(clean_db, tenant.id)
    for _ in range(otp.MAX_TRIES):
        with pytest.raises(ValidationFailed):
            await _verify(clean_db, settings, tenant, tx, _wrong(code))
    with pytest.raises(ValidationFailed):
        await _verify(clean_db, settings, tenant, tx, code)


async def test_a_new_code_does_not_reset_the_destinations_tries(
    clean_db: Database, settings: Settings, tenant: TenantInfo, frozen: Clock
) -> None:
    first = await _request(clean_db, settings, tenant)
    code = await last_code(clean_db, tenant.id)
    for _ in range(3):
        with pytest.raises(ValidationFailed):
            await _verify(clean_db, settings, tenant, first, _wrong(code))
    second = await _request(clean_db, settings, tenant)
    code = await last_code(clean_db, tenant.id)
    for _ in range(2):
        with pytest.raises(ValidationFailed):
            await _verify(clean_db, settings, tenant, second, _wrong(code))
    with pytest.raises(ValidationFailed):  # five wrong tries at this phone: dead
        await _verify(clean_db, settings, tenant, second, code)
    # Once the window has passed (and a send is allowed again), a fresh code works.
    frozen.advance(otp.FAILURE_WINDOW.total_seconds() + 1)
    third = await _request(clean_db, settings, tenant)
    proven = await _verify(clean_db, settings, tenant, third, await last_code(clean_db, tenant.id))
    assert proven.value == E164


async def test_an_expired_code_is_refused(
    clean_db: Database, settings: Settings, tenant: TenantInfo, frozen: Clock
) -> None:
    tx = await _request(clean_db, settings, tenant)
    code = await last_code(clean_db, tenant.id)
    frozen.advance(otp.CODE_MINUTES * 60 + 1)
    with pytest.raises(ValidationFailed):
        await _verify(clean_db, settings, tenant, tx, code)


async def test_a_code_for_one_purpose_is_refused_for_another(
    clean_db: Database, settings: Settings, tenant: TenantInfo, frozen: Clock
) -> None:
    tx = await _request(clean_db, settings, tenant, purpose="claim")
    code = await last_code(clean_db, tenant.id)
    with pytest.raises(ValidationFailed):
        await _verify(clean_db, settings, tenant, tx, code, purpose="login")
    assert (await _verify(clean_db, settings, tenant, tx, code, purpose="claim")).value == E164


async def test_an_unknown_transaction_is_refused_like_a_wrong_code(
    clean_db: Database, settings: Settings, tenant: TenantInfo, frozen: Clock
) -> None:
    with pytest.raises(ValidationFailed) as unknown:
        await _verify(clean_db, settings, tenant, uuid.uuid4(), "123456")
    assert unknown.value.errors == [{"field": "code", "reason": otp.BAD_CODE}]


async def test_sends_are_capped_at_three_per_15_minutes_and_20_per_day(
    clean_db: Database, settings: Settings, tenant: TenantInfo, frozen: Clock
) -> None:
    sent = 0
    for _ in range(3):
        await _request(clean_db, settings, tenant)
        sent += 1
    with pytest.raises(TooManyRequests) as capped:
        await _request(clean_db, settings, tenant)
    assert capped.value.headers["Retry-After"] == str(15 * 60)
    # Another destination is not affected.
    await _request(clean_db, settings, tenant, "+1 416 555 0199")
    while sent < 20:
        frozen.advance(15 * 60 + 1)
        for _ in range(min(3, 20 - sent)):
            await _request(clean_db, settings, tenant)
            sent += 1
    frozen.advance(15 * 60 + 1)
    with pytest.raises(TooManyRequests) as daily:
        await _request(clean_db, settings, tenant)
    assert int(daily.value.headers["Retry-After"]) > 15 * 60
    frozen.advance(24 * 3600)
    await _request(clean_db, settings, tenant)


async def test_invalid_destinations_are_422_naming_the_field(
    clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    for bad in ("12", "not-an-email@", ""):
        with pytest.raises(ValidationFailed) as refused:
            await _request(clean_db, settings, tenant, bad, field="phone")
        assert refused.value.errors[0]["field"] == "phone"
