"""A minimal match for staff: the person in front of them is registered outside their reach.

Staff search within their scope only. A vaccinator at a centre may still meet someone
registered in another region (they moved, or travel): registering them again fails
("already registered") and a search finds nobody. With the ID document in hand, a staff
member who may register people gets just enough to confirm who it is and send them on:
the slip reference, the given name, the birth year and the region. Nothing else of the
record (no contact details, documents, full date of birth), exact document match only,
and every match is audited like any read. The decision is explained in
docs/registration.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from vaxport.core.db import Database
from vaxport.core.errors import Forbidden
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor, can
from vaxport.registration.models import STATUS_ACTIVE, Beneficiary
from vaxport.registration.presenters import documents_of, member_out, resource
from vaxport.registration.reads import audit_reads, document_holders
from vaxport.tenancy.service import TenantInfo

READ, WRITE = "beneficiaries:read", "beneficiaries:write"


@dataclass(frozen=True, slots=True)
class ElsewhereMatch:
    """What a staff member may see of a person registered outside their reach."""

    reference: str
    given_name: str
    birth_year: int
    region_code: str


async def match_elsewhere(
    *, db: Database, tenant: TenantInfo, actor: Actor, id_type: str, number: str
) -> ElsewhereMatch | None:
    """The person outside ``actor``'s scope holding exactly this ID document, minimally."""
    if actor.kind == "citizen" or not actor.has(WRITE):
        raise Forbidden(N_("only staff who register people may look beyond their area"))
    async with db.transaction(tenant_id=tenant.id) as uow:
        holders = await document_holders(uow.session, tenant, id_type, number)
        person = await uow.session.scalar(
            select(Beneficiary).where(
                Beneficiary.tenant_id == tenant.id,
                Beneficiary.id.in_(holders),
                Beneficiary.status == STATUS_ACTIVE,
            )
        )
        if person is None or can(actor, READ, resource(person)):
            return None  # nobody, or someone their own search finds
        docs = await documents_of(uow.session, tenant.id, [person.id])
        seen = member_out(person, docs[person.id])
        await audit_reads(uow, actor, "beneficiary.match_elsewhere", [person.id], by="id_number")
        return ElsewhereMatch(seen.reference, seen.given_name, seen.birth_year, seen.region_code)
