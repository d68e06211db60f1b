"""notify(): what it writes in the caller's transaction, deduplication, destinations, and
messages to people found through a contact resolver (with their preferences)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import func, select, text

from tests.notifications.dispatch_support import (
    EMAIL,
    PHONE,
    PHONE_NATIONAL,
    notifications,
    queue,
    row_of,
    run_worker,
    tenant_with,
)
from tests.support.parts import PARTS
from vaxport import wiring
from vaxport.core.cache import Cache
from vaxport.core.crypto import blind_match
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import ValidationFailed
from vaxport.core.outbox import OutboxEvent
from vaxport.notifications import preferences, service, support
from vaxport.notifications.models import Message
from vaxport.notifications.recipients import (
    Contact,
)
from vaxport.settings import Settings

pytestmark = pytest.mark.usefixtures("dispatch_env")


async def _events(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxEvent)) or 0)


async def test_a_repeated_dedup_key_returns_the_first_message_and_queues_nothing_more(
    clean_db: Database,
) -> None:
    tenant = await tenant_with(clean_db, notifications())
    first = await queue(clean_db, tenant, to=PHONE, dedup_key="certificate:42")
    again = await queue(clean_db, tenant, to=EMAIL, dedup_key="certificate:42")
    assert again == first
    assert await _events(clean_db) == 1
    # Without a key: event + recipient + kind.
    a = await queue(clean_db, tenant, to=PHONE)
    b = await queue(clean_db, tenant, to=PHONE_NATIONAL)  # the same number, written otherwise
    c = await queue(clean_db, tenant, to=EMAIL)
    assert a == b
    assert len({first, a, c}) == 3
    assert await _events(clean_db) == 3


async def test_concurrent_requests_with_one_dedup_key_make_one_message(
    clean_db: Database,
) -> None:
    tenant = await tenant_with(clean_db, notifications())
    ids = await asyncio.gather(
        *(queue(clean_db, tenant, to=PHONE, dedup_key="race:1") for _ in range(6))
    )
    assert len(set(ids)) == 1
    assert await _events(clean_db) == 1


async def test_destination_and_data_are_stored_encrypted_and_national_numbers_normalised(
    clean_db: Database,
) -> None:
    tenant = await tenant_with(clean_db, notifications())
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        message_id = await service.send_login_code(
            uow,
            tenant_id=tenant.id,
            destination=PHONE_NATIONAL,
            kind="sms",
            code="917364",
            locale="en",
            minutes=10,
        )
    row = await row_of(clean_db, tenant, message_id)
    assert row.to_phone == PHONE  # E.164 with the tenant's region (CA)
    async with clean_db.read(tenant_id=tenant.id) as session:
        raw = (
            await session.execute(
                text("SELECT to_phone_enc, to_phone_bidx, data_enc, dedup_key FROM messages")
            )
        ).one()
        # National input finds the row by its blind index: the tenant's region is known
        # to the crypto layer.
        match = await blind_match(
            session, Message.to_phone_bidx, tenant_id=tenant.id, kind="phone", value=PHONE_NATIONAL
        )
        found = await session.scalar(select(Message.id).where(match))
    assert found == message_id
    stored = b"".join(bytes(v) for v in raw[:3]) + raw[3].encode()
    for secret in (PHONE, PHONE.lstrip("+"), "5145550123", "917364"):
        assert secret.encode() not in stored


async def test_bad_input_is_refused_and_nothing_is_written(clean_db: Database) -> None:
    tenant = await tenant_with(clean_db, notifications())
    with pytest.raises(ValidationFailed) as info:
        await queue(clean_db, tenant, to="12")
    assert [e["field"] for e in info.value.errors] == ["to"]
    with pytest.raises(ValidationFailed):
        await queue(clean_db, tenant, to="not@an@address")
    with pytest.raises(ValueError, match="unknown notification event"):
        await queue(clean_db, tenant, to=PHONE, event="nothing_happened")
    with pytest.raises(ValueError, match="cannot be rendered"):
        await queue(clean_db, tenant, to=PHONE, data={})  # tenant_name missing
    with pytest.raises(ValueError, match="timezone-aware"):
        await queue(clean_db, tenant, to=PHONE, due_at=dt.datetime(2030, 1, 1))
    async with clean_db.transaction(tenant_id=uuid.uuid4()) as uow:
        with pytest.raises(ValueError, match="scoped"):
            await service.notify(uow, tenant_id=tenant.id, event="test_message", to=PHONE, data={})
    async with clean_db.read() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxEvent)) == 0


@pytest.fixture
def contacts() -> Iterator[dict[uuid.UUID, Contact]]:
    """People's contacts as a registration context would resolve them."""
    book: dict[uuid.UUID, Contact] = {}

    async def resolve(uow: UnitOfWork, tenant_id: uuid.UUID, subject: uuid.UUID) -> Contact | None:
        assert uow.tenant_id == tenant_id
        return book.get(subject)

    wiring.install(replace(PARTS, contact_resolvers=(resolve,)))
    yield book
    wiring.install(PARTS)


async def test_a_person_is_reached_by_their_preferred_kind_at_their_current_contact(
    clean_db: Database, cache: Cache, fast: Settings, contacts: dict[uuid.UUID, Contact]
) -> None:
    tenant = await tenant_with(clean_db, notifications())
    person = uuid.uuid4()
    contacts[person] = Contact(phone=PHONE_NATIONAL, email=EMAIL, locale="fr")
    await preferences.update_preferences(
        db=clean_db,
        tenant_id=tenant.id,
        subject_id=person,
        preferred_kind="email",
        opt_out_non_essential=False,
        actor=None,
    )
    by_email = await queue(clean_db, tenant, to=person)
    by_sms = await queue(clean_db, tenant, to=person, kind="sms")
    # The person changes their address before the worker sends.
    contacts[person] = Contact(phone=PHONE, email="new.address@example.org")

    await run_worker(clean_db, cache, fast)

    shown = {m.kind: m for m in await support.list_console_messages(settings=fast)}
    assert shown["email"].to == "new.address@example.org"
    assert shown["email"].locale == "fr"
    assert shown["sms"].to == PHONE
    assert (await row_of(clean_db, tenant, by_email)).to_email == "new.address@example.org"
    assert (await row_of(clean_db, tenant, by_sms)).status == "sent"


async def test_opting_out_stops_non_essential_messages_but_not_login_codes(
    clean_db: Database, cache: Cache, fast: Settings, contacts: dict[uuid.UUID, Contact]
) -> None:
    tenant = await tenant_with(clean_db, notifications())
    person = uuid.uuid4()
    contacts[person] = Contact(phone=PHONE)
    reminder = await queue(clean_db, tenant, to=person, event="test_message", dedup_key="r:1")
    code = await queue(
        clean_db, tenant, to=person, event="login_code", data={"code": "1234", "minutes": 5}
    )
    await preferences.update_preferences(
        db=clean_db,
        tenant_id=tenant.id,
        subject_id=person,
        preferred_kind=None,
        opt_out_non_essential=True,
        actor=None,
    )

    await run_worker(clean_db, cache, fast)

    assert (await row_of(clean_db, tenant, reminder)).reason == "opted_out"
    assert (await row_of(clean_db, tenant, code)).status == "sent"


async def test_a_person_without_a_usable_contact_gets_a_cancelled_message(
    clean_db: Database, cache: Cache, fast: Settings, contacts: dict[uuid.UUID, Contact]
) -> None:
    tenant = await tenant_with(clean_db, notifications())
    nobody, gone = uuid.uuid4(), uuid.uuid4()
    contacts[gone] = Contact(email=EMAIL)
    never = await queue(clean_db, tenant, to=nobody)
    later = await queue(clean_db, tenant, to=gone)
    assert (await row_of(clean_db, tenant, never)).reason == "no_destination"
    assert await _events(clean_db) == 1  # nothing to send for the first

    del contacts[gone]  # the account was closed meanwhile
    await run_worker(clean_db, cache, fast)
    assert (await row_of(clean_db, tenant, later)).reason == "no_destination"
    assert await support.list_console_messages(settings=fast) == []
