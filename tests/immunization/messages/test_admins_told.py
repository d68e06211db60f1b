"""A serious adverse event reaches the region's admins by e-mail; a lot at the threshold
is flagged and they are told again. Through a real worker and a real SMTP server."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from tests.immunization.conftest import REGION
from tests.immunization.helpers import SERIOUS, aefi_body, make_dose, make_lot, register
from tests.notifications.peers import Mailbox
from tests.registration.conftest import staff_token
from tests.scheduling.messages.support import mails, settle
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.core.outbox.models import OutboxEvent
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


async def test_a_serious_report_emails_the_regions_admins_and_the_threshold_flags_the_lot(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    settings: Settings,
    tenant: TenantInfo,
    centre: uuid.UUID,
    smtp_server: tuple[Mailbox, int],
) -> None:
    mailbox, _ = smtp_server
    north = await staff_token(
        client,
        clean_db,
        settings,
        tenant,
        "region_admin",
        region_code="NOR",
        email="north.admin@health.example.org",
    )
    await staff_token(
        client,
        clean_db,
        settings,
        tenant,
        "region_admin",
        region_code="CEN",
        email="central.admin@health.example.org",
    )
    lot = await make_lot(client, tenant, north.headers, lot_number="EW0150")
    vaccinator = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", facility_id=centre
    )
    url = f"/api/v1/{tenant.code}/aefi"
    threshold = tenant.config.immunization.aefi.serious_threshold_per_lot  # type: ignore[union-attr]
    for i in range(threshold):
        person = await register(client, tenant, north.headers, region_code=REGION)
        dose = await make_dose(
            clean_db,
            tenant,
            beneficiary_id=person,
            lot_id=uuid.UUID(lot["id"]),
            region_code=REGION,
            facility_id=centre,
        )
        made = await client.post(url, json=aefi_body(dose, **SERIOUS), headers=vaccinator.headers)
        assert made.status_code == 201, made.text
        flagged = (
            await client.get(f"/api/v1/{tenant.code}/lots/{lot['id']}", headers=north.headers)
        ).json()
        assert (flagged["flagged_at"] is not None) == (i == threshold - 1)

    await settle(clean_db, cache, fast)

    # (Their invitations went out by e-mail too: only the adverse event messages count.)
    received = [m for m in mails(mailbox) if "adverse event" in m[1]]
    assert {tuple(to) for to, _, _ in received} == {("north.admin@health.example.org",)}
    subjects = sorted(subject for _, subject, _ in received)
    region = "Hillcrest Town"  # the dose's region, by name
    assert subjects.count(f"Serious adverse event reported in {region}") == threshold
    assert subjects.count("Lot EW0150 flagged by serious adverse events") == 1
    for _, _, text in received:  # never the person, never their symptoms
        assert "Lovelace" not in text
        assert "Fever" not in text
    async with clean_db.read(tenant_id=tenant.id) as session:
        flagged_events = list(
            await session.scalars(
                select(OutboxEvent.id).where(OutboxEvent.event_type == "lot.flagged")
            )
        )
    assert len(flagged_events) == 1
