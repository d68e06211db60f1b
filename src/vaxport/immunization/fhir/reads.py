"""The FHIR reads: a Patient, its Immunizations, one Immunization, and both together.

Authorization is the API's: the route requires ``doses:read``; the person must be in the
actor's reach for it (registration's ``person_record``): staff by jurisdiction, citizens
their own members. Anyone else's person, another tenant's included, is missing (404).
Every staff read is audited as a read of that person's record, in the read's own
transaction, as registration audits its reads (a citizen reading their own members is
not). A merged person's Immunizations include the doses recorded under the records merged
into them, pointing at the survivor.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import and_, select

from vaxport.core import audit
from vaxport.core.clock import utcnow
from vaxport.core.db import Database, UnitOfWork
from vaxport.core.errors import NotFound
from vaxport.core.i18n import N_
from vaxport.facilities import service as facilities
from vaxport.identity.service import Actor
from vaxport.immunization.fhir import shapes
from vaxport.immunization.fhir.codes import Systems
from vaxport.immunization.models import Dose, Lot
from vaxport.registration import service as registration
from vaxport.registration.service import PersonRecord
from vaxport.tenancy.service import TenantInfo

READ = "doses:read"
# A person has a handful of doses; this bounds a search all the same (no paging yet).
DOSES_MAX = 500
Resource = dict[str, Any]


def _is_staff(actor: Actor) -> bool:
    return actor.kind != "citizen"


async def _audit(
    uow: UnitOfWork, actor: Actor, action: str, person: PersonRecord, **details: Any
) -> None:
    if _is_staff(actor):
        await audit.record(
            uow,
            by=actor.principal,
            action=action,
            object_type="beneficiary",
            object_id=person.id,
            details=details or None,
        )


async def _person(
    uow: UnitOfWork, tenant: TenantInfo, actor: Actor, patient_id: uuid.UUID
) -> PersonRecord:
    return await registration.person_record(
        uow, tenant=tenant, actor=actor, beneficiary_id=patient_id, permission=READ
    )


def _doses_query(tenant: TenantInfo) -> Any:
    return (
        select(Dose, Lot)
        .outerjoin(Lot, and_(Lot.id == Dose.lot_id, Lot.tenant_id == Dose.tenant_id))
        .where(Dose.tenant_id == tenant.id)
    )


def _views(
    rows: list[tuple[Dose, Lot | None]], patient_id: uuid.UUID, names: dict[uuid.UUID, str]
) -> list[shapes.DoseView]:
    return [
        shapes.DoseView(
            id=dose.id,
            patient_id=patient_id,
            product_id=dose.product_id,
            series=dose.series,
            dose_number=dose.dose_number,
            administered_at=dose.administered_at,
            site=dose.site,
            route=dose.route,
            status=dose.status,
            version=dose.version,
            created_at=dose.created_at,
            updated_at=dose.updated_at,
            lot_number=lot.lot_number if lot is not None else None,
            lot_expires_on=lot.expires_on if lot is not None else None,
            lot_manufacturer=lot.manufacturer if lot is not None else None,
            facility_name=names.get(dose.facility_id) if dose.facility_id else None,
        )
        for dose, lot in rows
    ]


async def _person_and_doses(
    db: Database, tenant: TenantInfo, actor: Actor, patient_id: uuid.UUID, action: str
) -> tuple[PersonRecord, list[shapes.DoseView]]:
    async with db.transaction(tenant_id=tenant.id) as uow:
        person = await _person(uow, tenant, actor, patient_id)
        query = (
            _doses_query(tenant)
            .where(Dose.beneficiary_id.in_(person.record_ids))
            .order_by(Dose.administered_at, Dose.id)
            .limit(DOSES_MAX)
        )
        rows: list[tuple[Dose, Lot | None]] = [
            (dose, lot) for dose, lot in await uow.session.execute(query)
        ]
        await _audit(uow, actor, action, person, count=len(rows))
        names = await facilities.names_in(
            uow.session, tenant, (dose.facility_id for dose, _ in rows)
        )
    return person, _views(rows, person.id, names)


async def read_patient(
    *, db: Database, tenant: TenantInfo, actor: Actor, patient_id: uuid.UUID, systems: Systems
) -> Resource:
    """``Patient/{id}``: the person, if the actor reaches them for ``doses:read``."""
    async with db.transaction(tenant_id=tenant.id) as uow:
        person = await _person(uow, tenant, actor, patient_id)
        await _audit(uow, actor, "fhir.patient.read", person)
    return shapes.patient(tenant, systems, person)


async def search_immunizations(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    patient_id: uuid.UUID,
    systems: Systems,
    self_url: str,
) -> Resource:
    """``Immunization?patient={id}``: the person's doses, recorded and voided, oldest first."""
    _, doses = await _person_and_doses(db, tenant, actor, patient_id, "fhir.immunization.search")
    entries = [
        (f"{systems.base}/Immunization/{d.id}", shapes.immunization(tenant, systems, d), "match")
        for d in doses
    ]
    return shapes.searchset(self_url, entries, total=len(entries))


async def read_immunization(
    *, db: Database, tenant: TenantInfo, actor: Actor, dose_id: uuid.UUID, systems: Systems
) -> Resource:
    """``Immunization/{id}``: one dose record of a person the actor reaches."""
    missing = NotFound(N_("immunization not found"))
    async with db.transaction(tenant_id=tenant.id) as uow:
        query = _doses_query(tenant).where(Dose.id == dose_id)
        found = (await uow.session.execute(query)).first()
        if found is None:
            raise missing
        dose, lot = found[0], found[1]
        try:
            person = await _person(uow, tenant, actor, dose.beneficiary_id)
        except NotFound:
            raise missing from None
        await _audit(uow, actor, "fhir.immunization.read", person, dose=str(dose.id))
        names = await facilities.names_in(uow.session, tenant, [dose.facility_id])
    [view] = _views([(dose, lot)], person.id, names)
    return shapes.immunization(tenant, systems, view)


async def everything(
    *,
    db: Database,
    tenant: TenantInfo,
    actor: Actor,
    patient_id: uuid.UUID,
    systems: Systems,
    self_url: str,
) -> Resource:
    """``Patient/{id}/$everything``: the Patient and all their Immunizations."""
    person, doses = await _person_and_doses(
        db, tenant, actor, patient_id, "fhir.patient.everything"
    )
    me = shapes.patient(tenant, systems, person)
    entries = [(f"{systems.base}/Patient/{person.id}", me, "match")]
    entries += [
        (f"{systems.base}/Immunization/{d.id}", shapes.immunization(tenant, systems, d), "include")
        for d in doses
    ]
    return shapes.searchset(self_url, entries, total=1)


def capability(*, tenant: TenantInfo, systems: Systems) -> Resource:
    """``metadata``: the CapabilityStatement (public)."""
    return shapes.capability_statement(tenant, systems.base, utcnow())
