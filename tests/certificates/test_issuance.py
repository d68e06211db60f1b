"""Issuance from the dose events: every dose on the certificates, earlier certificates
still valid after a later dose, revoked ones refused by the public verifier, redelivery
harmless."""

from __future__ import annotations

import base64
import json
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.certificates.issuance_support import (
    VERIFY,
    change_dose,
    give,
    person,
    qr,
    stored,
    with_keys,
    work,
)
from tests.identity.helpers import actor_for
from tests.immunization.support import add_lot, body
from tests.registration.conftest import make_facility
from tests.scheduling.conftest import REGION
from vaxport.certificates import service as certificates
from vaxport.certificates.issuance import own_trust
from vaxport.certificates.issuance.models import Certificate
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.outbox import emit
from vaxport.immunization import service as immunization
from vaxport.immunization.schemas import DoseIn
from vaxport.notifications.models import Message
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


@pytest.fixture(autouse=True)
def _fresh_own_trust(db: Database) -> Iterator[None]:
    own_trust.forget(db)
    yield
    own_trust.forget(db)


async def _verify(client: httpx.AsyncClient, text: str) -> dict[str, Any]:
    answer = await client.post(VERIFY, json={"payload": text})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _performers(jws: str) -> list[str]:
    """The centre named on each Immunization of a SMART Health Card's JWS."""
    part = jws.split(".")[1]
    payload = json.loads(
        zlib.decompress(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)), -15)
    )
    entries = payload["vc"]["credentialSubject"]["fhirBundle"]["entry"]
    return [
        performer["actor"]["display"]
        for e in entries
        if e["resource"]["resourceType"] == "Immunization"
        for performer in e["resource"].get("performer", [])
    ]


def _by(rows: list[Certificate], fmt: str, status: str | None = None) -> list[Certificate]:
    return [r for r in rows if r.format == fmt and (status is None or r.status == status)]


async def test_a_recorded_dose_issues_certificates_that_verify_through_the_public_verifier(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    await with_keys(clean_db, tenant)
    centre = await make_facility(clean_db, cache, tenant, code="HC-1", region_code=REGION)
    await add_lot(clean_db, tenant, "covid-mrna", "EX1234")
    someone = await person(clean_db, tenant, facility_id=centre)
    vaccinator = actor_for(tenant, "vaccinator", facility_id=centre)
    dose = await immunization.record_dose(
        db=clean_db, tenant=tenant, actor=vaccinator, body=DoseIn.model_validate(body(someone))
    )

    await work(clean_db, cache, settings)

    staff = actor_for(tenant, "national_admin")
    found = await certificates.current_certificates(
        db=clean_db, tenant=tenant, actor=staff, beneficiary_id=someone
    )
    assert sorted(c.format for c in found) == ["eu-dcc", "shc"]
    assert all(c.status == "current" and c.dose_ids == [dose.id] for c in found)
    for cert in found:
        assert cert.qr is not None
        result = await _verify(client, cert.qr)
        assert result["valid"] is True, result
        assert result["checks"]["revocation"] is True
        assert result["holder"]["given_name"] == "Person0"
    shc_card = next(c for c in found if c.format == "shc")
    assert shc_card.jws
    assert shc_card.qr == "shc:/" + "".join(f"{ord(ch) - 45:02d}" for ch in shc_card.jws)
    # The card names the centre that gave the dose (the PDF's "Centre" column reads it).
    assert _performers(shc_card.jws) == ["Hillcrest Health Centre"]
    async with clean_db.read(tenant_id=tenant.id) as s:
        told = list(
            await s.execute(
                select(Message.event, Message.essential).where(Message.subject_id == someone)
            )
        )
    assert ("certificate_ready", True) in [tuple(m) for m in told]


async def test_a_later_dose_lists_every_dose_and_the_earlier_certificates_still_verify(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    await with_keys(clean_db, tenant)
    someone = await person(clean_db, tenant)
    first = await give(clean_db, tenant, someone, number=1, days_ago=40)
    await work(clean_db, cache, settings)
    [earlier_dcc] = _by(await stored(clean_db, tenant, someone), "eu-dcc")
    [earlier_card] = _by(await stored(clean_db, tenant, someone), "shc")

    second = await give(clean_db, tenant, someone, number=2, days_ago=5)
    await work(clean_db, cache, settings)

    rows = await stored(clean_db, tenant, someone)
    [card] = _by(rows, "shc", "current")
    assert set(card.dose_ids) == {str(first), str(second)}
    assert {r.dose_id for r in _by(rows, "eu-dcc", "current")} == {first, second}
    assert {r.id: r.status for r in rows}[earlier_card.id] == "superseded"
    assert {r.id: r.status for r in rows}[earlier_dcc.id] == "current"
    now_card = await _verify(client, qr(card))
    assert now_card["valid"] is True
    assert now_card["holder"]["vaccination"]["doses"] == 2
    for earlier in (earlier_card, earlier_dcc):
        result = await _verify(client, qr(earlier))
        assert result["valid"] is True, result


async def test_a_voided_dose_revokes_its_certificates_and_the_verifier_refuses_them(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    await with_keys(clean_db, tenant)
    someone = await person(clean_db, tenant)
    first = await give(clean_db, tenant, someone, number=1, days_ago=40)
    await work(clean_db, cache, settings)
    second = await give(clean_db, tenant, someone, number=2, days_ago=5)
    await work(clean_db, cache, settings)
    before = await stored(clean_db, tenant, someone)
    [two_dose_card] = _by(before, "shc", "current")
    [second_dcc] = [r for r in _by(before, "eu-dcc") if r.dose_id == second]
    [one_dose_card] = _by(before, "shc", "superseded")
    for cert in (two_dose_card, second_dcc):  # the verifier has cached its trust
        assert (await _verify(client, qr(cert)))["valid"] is True

    await change_dose(clean_db, tenant, second, "dose.voided", status="voided")
    await work(clean_db, cache, settings)

    rows = {r.id: r for r in await stored(clean_db, tenant, someone)}
    for cert in (two_dose_card, second_dcc):
        assert rows[cert.id].status == "revoked"
        assert rows[cert.id].revocation_reason == "dose-removed"
        result = await _verify(client, qr(cert))
        assert result["valid"] is False
        assert result["checks"]["signature"] is True
        assert result["checks"]["revocation"] is False
    # The card of dose 1 alone still states the truth: it stays valid.
    assert rows[one_dose_card.id].status == "superseded"
    assert (await _verify(client, qr(one_dose_card)))["valid"] is True
    [current_card] = [r for r in rows.values() if r.format == "shc" and r.status == "current"]
    assert current_card.dose_ids == [str(first)]
    assert (await _verify(client, qr(current_card)))["valid"] is True


async def test_a_corrected_dose_or_name_reissues_and_revokes_the_old_certificates(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    from vaxport.registration.models import Beneficiary

    await with_keys(clean_db, tenant)
    someone = await person(clean_db, tenant)
    dose = await give(clean_db, tenant, someone, number=1, days_ago=40)
    await work(clean_db, cache, settings)
    old = await stored(clean_db, tenant, someone)

    await change_dose(clean_db, tenant, dose, "dose.corrected", product_id="covid-protein")
    await work(clean_db, cache, settings)
    rows = await stored(clean_db, tenant, someone)
    assert {r.revocation_reason for r in rows if r.id in {o.id for o in old}} == {"dose-corrected"}
    assert len([r for r in rows if r.status == "current"]) == 2
    for cert in old:
        assert (await _verify(client, qr(cert)))["checks"]["revocation"] is False

    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        found = await uow.session.scalar(select(Beneficiary).where(Beneficiary.id == someone))
        assert found is not None
        found.given_name = "Renamed"
        await emit(uow, "beneficiary.corrected", {"beneficiary_id": str(someone)})
    await work(clean_db, cache, settings)
    latest = [r for r in await stored(clean_db, tenant, someone) if r.status == "current"]
    assert len(latest) == 2
    for cert in latest:
        result = await _verify(client, qr(cert))
        assert result["valid"] is True
        assert result["holder"]["given_name"] == "Renamed"
    revoked = [r for r in await stored(clean_db, tenant, someone) if r.status == "revoked"]
    assert {r.revocation_reason for r in revoked} == {"dose-corrected", "holder-corrected"}


async def test_a_redelivered_event_changes_nothing(
    clean_db: Database, cache: Cache, settings: Settings, tenant: TenantInfo
) -> None:
    await with_keys(clean_db, tenant)
    someone = await person(clean_db, tenant)
    dose = await give(clean_db, tenant, someone, number=1, days_ago=3)
    await work(clean_db, cache, settings)
    first = [(r.id, r.status) for r in await stored(clean_db, tenant, someone)]

    for _ in range(2):  # the same event delivered again
        await change_dose(clean_db, tenant, dose, "dose.recorded", status="recorded")
        await work(clean_db, cache, settings)
    again = await certificates.recompute_people(
        clean_db, tenant, [someone], public_url=settings.public_url
    )

    assert not again.changed
    assert [(r.id, r.status) for r in await stored(clean_db, tenant, someone)] == first
    async with clean_db.read(tenant_id=tenant.id) as s:
        told = list(
            await s.scalars(
                select(Message.id).where(
                    Message.subject_id == someone, Message.event == "certificate_ready"
                )
            )
        )
    assert len(told) == 1  # one "certificate ready"


async def test_a_tenant_without_keys_issues_nothing_and_fails_no_event(
    clean_db: Database, cache: Cache, settings: Settings, tenant: TenantInfo
) -> None:
    from vaxport.core.outbox import OutboxDelivery

    someone = await person(clean_db, tenant)
    await give(clean_db, tenant, someone, number=1, days_ago=3)
    await work(clean_db, cache, settings)

    assert await stored(clean_db, tenant, someone) == []
    async with clean_db.read() as s:
        states = set(
            await s.scalars(
                select(OutboxDelivery.state).where(
                    OutboxDelivery.subscriber == "certificates.issuance"
                )
            )
        )
    assert states == {"delivered"}


async def test_unknown_people_in_events_are_ignored(
    clean_db: Database, cache: Cache, settings: Settings, tenant: TenantInfo
) -> None:
    await with_keys(clean_db, tenant)
    async with clean_db.transaction(tenant_id=tenant.id) as uow:
        await emit(uow, "dose.recorded", {"beneficiary_id": "not-a-uuid"})
        await emit(uow, "beneficiary.erased", {"beneficiary_id": str(uuid.uuid4())})
    await work(clean_db, cache, settings)
    async with clean_db.read(tenant_id=tenant.id) as s:
        assert list(await s.scalars(select(Certificate.id))) == []


async def test_concurrent_recomputations_of_one_person_issue_each_certificate_once(
    clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    import asyncio

    await with_keys(clean_db, tenant)
    someone = await person(clean_db, tenant)
    await give(clean_db, tenant, someone, number=1, days_ago=40)
    await give(clean_db, tenant, someone, number=2, days_ago=5)

    async def once() -> int:
        for _ in range(3):  # a lost race on SQLite's writer lock is retried, as the worker does
            try:
                out = await certificates.recompute_people(
                    clean_db, tenant, [someone], public_url=settings.public_url
                )
            except Exception:
                await asyncio.sleep(0.05)
                continue
            return len(out.issued)
        raise AssertionError("never succeeded")

    issued = await asyncio.gather(*(once() for _ in range(4)))

    rows = await stored(clean_db, tenant, someone)
    assert sum(issued) == len(rows) == 3  # one card and a DCC per dose, once
    assert {r.status for r in rows} == {"current"}
