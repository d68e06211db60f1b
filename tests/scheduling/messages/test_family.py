"""A family member without a phone or e-mail of their own is reached through the account
holder's contact, in the member's language; never while the account is held."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import update

from tests.notifications.peers import Mailbox, RunningHttpPeer
from tests.scheduling.messages.support import (
    book,
    holder,
    mails,
    messages,
    person,
    session_at,
    settle,
    texts,
)
from vaxport.core.cache import Cache
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.identity.models import Account
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

HOLDER_PHONE = "+15145550177"


async def test_a_child_without_a_phone_is_reached_at_the_holders_phone_in_their_language(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    http_peer: RunningHttpPeer,
) -> None:
    account = await holder(clean_db, tenant, phone=HOLDER_PHONE)
    child = await person(clean_db, tenant, account_id=account, locale="fr", given_name="Léa")
    seeded = await session_at(clean_db, tenant, centre)
    booked = await book(clean_db, tenant, seeded.slot_ids[0], child, account_id=account)

    await settle(clean_db, cache, fast)

    [(to, text)] = texts(http_peer)
    assert to == HOLDER_PHONE
    assert text.startswith("Vaccination réservée : mardi 4 juin 2030, 10:00")
    assert booked.booking_code in text
    assert "Léa" not in text  # the booking code says which appointment; no name needed
    [confirmation] = await messages(clean_db, tenant, "appointment_booked")
    assert confirmation.subject_id == child  # preferences and opt-outs stay the child's


async def test_a_member_with_an_email_of_their_own_is_written_to_there_only(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    http_peer: RunningHttpPeer,
    smtp_server: tuple[Mailbox, int],
) -> None:
    account = await holder(clean_db, tenant, phone=HOLDER_PHONE)
    member = await person(clean_db, tenant, account_id=account, email="grandpa@example.org")
    seeded = await session_at(clean_db, tenant, centre)
    await book(clean_db, tenant, seeded.slot_ids[0], member, account_id=account)

    await settle(clean_db, cache, fast)

    assert texts(http_peer) == []
    assert [to for to, _, _ in mails(smtp_server[0])] == [["grandpa@example.org"]]


async def test_an_account_held_after_a_recovery_does_not_learn_the_familys_appointments(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    http_peer: RunningHttpPeer,
) -> None:
    account = await holder(clean_db, tenant, phone=HOLDER_PHONE)
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        await uow.session.execute(
            update(Account)
            .where(Account.id == account)
            .values(recovery_hold_until=utcnow() + dt.timedelta(hours=72))
        )
    child = await person(clean_db, tenant, account_id=account)
    seeded = await session_at(clean_db, tenant, centre)
    await book(clean_db, tenant, seeded.slot_ids[0], child, account_id=account)

    await settle(clean_db, cache, fast)

    assert texts(http_peer) == []
    assert {(m.status, m.reason) for m in await messages(clean_db, tenant)} == {
        ("cancelled", "no_destination")
    }


async def test_a_disabled_account_is_not_written_to_for_its_members(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    http_peer: RunningHttpPeer,
) -> None:
    account = await holder(clean_db, tenant, phone=HOLDER_PHONE)
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        await uow.session.execute(
            update(Account).where(Account.id == account).values(status="disabled")
        )
    child = await person(clean_db, tenant, account_id=account)
    seeded = await session_at(clean_db, tenant, centre)
    await book(clean_db, tenant, seeded.slot_ids[0], child, account_id=account)

    await settle(clean_db, cache, fast)

    assert texts(http_peer) == []
