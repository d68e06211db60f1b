"""The outbox subscriber that keeps certificates in line with the records.

Follows immunization's ``dose.recorded``, ``dose.corrected`` and ``dose.voided``
(payload ``{"dose_id", "beneficiary_id", ...}``), registration's ``beneficiary.corrected``,
``beneficiary.updated`` (when a name or the birth changed), ``beneficiary.merged`` /
``unmerged`` (``{"merged_id", "survivor_id"}``) and ``beneficiary.erased``, and this
context's own ``certificates.recompute_requested`` (a lot's doses withheld). Each
recomputes the people concerned (:mod:`.recompute`); a redelivered event finds nothing
to change.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from vaxport.certificates.issuance import own_trust, signing
from vaxport.certificates.issuance.recompute import Outcome, recompute
from vaxport.core.db import Database
from vaxport.core.logging import get_logger
from vaxport.core.outbox import Event, HandlerContext, Subscriber
from vaxport.tenancy.service import TenantInfo, get_tenant_by_id

log = get_logger("vaxport.certificates")

DOSE_EVENTS = ("dose.recorded", "dose.corrected", "dose.voided")
PERSON_EVENTS = ("beneficiary.corrected", "beneficiary.updated", "beneficiary.erased")
MERGE_EVENTS = ("beneficiary.merged", "beneficiary.unmerged")
RECOMPUTE_REQUESTED = "certificates.recompute_requested"
# A plain update matters only when it changed what a certificate prints.
PRINTED_FIELDS = frozenset({"given_name", "family_name", "birth_date", "birth_year"})


def issuer_url(tenant: TenantInfo, *, public_url: str) -> str:
    """The tenant's SMART Health Card ``iss``: configured, or served by vaxport itself."""
    configured = tenant.config.certificates.shc_issuer
    return configured or f"{public_url.rstrip('/')}/shc/{tenant.code}"


def people_of(event: Event) -> list[uuid.UUID]:
    """The people an event concerns (none: nothing to recompute)."""
    payload = event.payload
    if event.event_type == "beneficiary.updated":
        fields = payload.get("fields")
        if isinstance(fields, list) and not PRINTED_FIELDS.intersection(map(str, fields)):
            return []
    keys = ("merged_id", "survivor_id") if event.event_type in MERGE_EVENTS else ("beneficiary_id",)
    out = []
    for key in keys:
        try:
            out.append(uuid.UUID(str(payload[key])))
        except (KeyError, ValueError):
            log.warning("certificates.event_without_person", event_type=event.event_type)
    return out


async def recompute_people(
    db: Database,
    tenant: TenantInfo,
    people: Iterable[uuid.UUID],
    *,
    public_url: str,
) -> Outcome:
    """Recompute each person's certificates in one transaction of the tenant."""
    signers = await signing.load(db, tenant, iss=issuer_url(tenant, public_url=public_url))
    total = Outcome()
    async with db.transaction(tenant_id=tenant.id) as uow:
        for person_id in people:
            total.add(
                await recompute(
                    uow, tenant=tenant, signers=signers, person_id=person_id, base_url=public_url
                )
            )
    if total.revoked:
        own_trust.forget(db)  # this process verifies with the revocation at once
    return total


async def on_event(event: Event, ctx: HandlerContext) -> None:
    """Recompute the certificates of the people ``event`` concerns."""
    people = people_of(event)
    if event.tenant_id is None or not people:
        return
    tenant = await get_tenant_by_id(db=ctx.db, cache=ctx.cache, tenant_id=event.tenant_id)
    await recompute_people(ctx.db, tenant, people, public_url=ctx.settings.public_url)


SUBSCRIBERS: tuple[Subscriber, ...] = (
    Subscriber.each(
        "certificates.issuance",
        (*DOSE_EVENTS, *PERSON_EVENTS, *MERGE_EVENTS, RECOMPUTE_REQUESTED),
        on_event,
    ),
)
