"""Recomputing a person's certificates from what is true of them now.

One use case behind every event (a dose recorded, corrected or voided; a name corrected;
a merge or its undoing; an erasure; an admin withholding doses), in the caller's
transaction, serialised per person:

1. Every live certificate of the person (current or superseded, not yet expired) that
   states something no longer true is **revoked** (a voided or corrected dose, a
   corrected name or birth date, a withheld dose); the reason says which.
2. What is missing is **issued**: a DCC for each recorded dose with EU DCC codes that has
   no current one, and one SMART Health Card listing every dose (never dropping one). A
   current certificate still true but stating less (an earlier card, before a later
   dose) is **superseded**: it stays valid until it expires.
3. Anything issued sends the person the essential "certificate ready" message.

A recomputation whose facts are unchanged changes nothing (redelivered events are
harmless). A merged record's certificates are checked against its survivor's facts and
superseded (the survivor's certificates list every dose); an erased person's are revoked.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from vaxport.certificates.issuance import signing
from vaxport.certificates.issuance.facts import Facts, gather
from vaxport.certificates.issuance.models import (
    CURRENT,
    EU_DCC,
    REASON_DOSE_CORRECTED,
    REASON_DOSE_REMOVED,
    REASON_ERASED,
    REASON_HOLDER_CORRECTED,
    REVOKED,
    SHC,
    SUPERSEDED,
    Certificate,
    payload_of,
)
from vaxport.certificates.issuance.signing import Signers
from vaxport.core import audit, clock
from vaxport.core.db import UnitOfWork, serialize_on
from vaxport.core.ids import uuid7
from vaxport.core.principal import SYSTEM
from vaxport.notifications import service as notifications
from vaxport.registration import service as registration
from vaxport.tenancy.service import TenantInfo

READY = "certificate_ready"
PAGE = "/{tenant}/certificates"


@dataclass(slots=True)
class Outcome:
    """What one recomputation changed."""

    issued: list[uuid.UUID] = field(default_factory=list)
    superseded: int = 0
    revoked: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.issued or self.superseded or self.revoked)

    def add(self, other: Outcome) -> None:
        self.issued += other.issued
        self.superseded += other.superseded
        for reason, n in other.revoked.items():
            self.revoked[reason] = self.revoked.get(reason, 0) + n


async def lock_person(uow: UnitOfWork, person_id: uuid.UUID) -> None:
    """Serialise recomputations of one person (PostgreSQL: a transaction-scoped advisory
    lock; SQLite writers already queue at BEGIN IMMEDIATE)."""
    await serialize_on(uow.session, "vaxport.certificates", person_id.bytes)


async def live_rows(
    uow: UnitOfWork, tenant_id: uuid.UUID, person_id: uuid.UUID, now: dt.datetime
) -> list[Certificate]:
    """The person's certificates that still verify: not revoked, not expired."""
    rows = await uow.session.scalars(
        select(Certificate)
        .where(
            Certificate.tenant_id == tenant_id,
            Certificate.beneficiary_id == person_id,
            Certificate.status.in_((CURRENT, SUPERSEDED)),
            Certificate.expires_at > now,
        )
        .order_by(Certificate.issued_at, Certificate.id)
    )
    return list(rows)


def revoke(row: Certificate, reason: str, now: dt.datetime, out: Outcome) -> None:
    """Mark ``row`` revoked (our revocation data lists it from the next trust refresh)."""
    row.status, row.revoked_at, row.revocation_reason = REVOKED, now, reason
    out.revoked[reason] = out.revoked.get(reason, 0) + 1
    signing.REVOKED.labels(reason).inc()


def _supersede(row: Certificate, now: dt.datetime, out: Outcome) -> None:
    if row.status == CURRENT:
        row.status, row.superseded_at = SUPERSEDED, now
        out.superseded += 1


def untrue(row: Certificate, facts: Facts) -> str | None:
    """Why ``row`` no longer states the truth (a revocation reason), or None."""
    stated = payload_of(row)
    if stated is None:
        return None  # shredded: only an erasure does that, and it revokes
    if stated.get("holder") != facts.holder.fp:
        return REASON_HOLDER_CORRECTED
    now = facts.dose_fps
    for dose_id, fp in dict(stated.get("doses") or {}).items():
        if dose_id in facts.withheld:
            return facts.withheld[dose_id]
        if dose_id not in now:
            return REASON_DOSE_REMOVED
        if now[dose_id] != fp:
            return REASON_DOSE_CORRECTED
    return None


def _states_exactly(row: Certificate, facts: Facts, doses: dict[str, str]) -> bool:
    stated = payload_of(row)
    return (
        stated is not None
        and stated.get("holder") == facts.holder.fp
        and dict(stated.get("doses") or {}) == doses
    )


async def recompute(
    uow: UnitOfWork,
    *,
    tenant: TenantInfo,
    signers: Signers,
    person_id: uuid.UUID,
    base_url: str,
    now: dt.datetime | None = None,
) -> Outcome:
    """Bring the person's certificates in line with their facts (module docstring)."""
    now = now or clock.utcnow()
    out = Outcome()
    await lock_person(uow, person_id)
    record = await registration.holder_record(uow.session, tenant.id, person_id)
    rows = await live_rows(uow, tenant.id, person_id, now)
    if record is None:
        for row in rows:
            revoke(row, REASON_ERASED, now, out)
    elif record.id != person_id:
        # Merged: the survivor's certificates state these doses from now on.
        await lock_person(uow, record.id)
        facts = await gather(uow.session, tenant, record)
        for row in rows:
            reason = untrue(row, facts)
            if reason is not None:
                revoke(row, reason, now, out)
            else:
                _supersede(row, now, out)
        await uow.session.flush()
        out.add(await _recompute_active(uow, tenant, signers, record, now))
    else:
        out.add(await _recompute_active(uow, tenant, signers, record, now, rows=rows))
    if out.changed:
        await _audit(uow, person_id, out)
    if out.issued and record is not None:
        await _tell(uow, tenant, record.id, out.issued[0], base_url)
    return out


async def _recompute_active(
    uow: UnitOfWork,
    tenant: TenantInfo,
    signers: Signers,
    record: registration.PersonRecord,
    now: dt.datetime,
    *,
    rows: Sequence[Certificate] | None = None,
) -> Outcome:
    out = Outcome()
    if rows is None:
        rows = await live_rows(uow, tenant.id, record.id, now)
    facts = await gather(uow.session, tenant, record)
    for row in rows:
        reason = untrue(row, facts)
        if reason is not None:
            revoke(row, reason, now, out)
    live = [r for r in rows if r.status != REVOKED]
    formats = tenant.config.certificates.formats
    if facts.doses:
        for key_format, reason in signers.skipped.items():
            signing.skip(key_format, reason)
    new: list[Certificate] = []
    if EU_DCC in formats and signers.dcc is not None:
        new += _issue_dccs(tenant, signers, facts, live, now=now, out=out)
    if SHC in formats and signers.shc is not None:
        new += _issue_shc(tenant, signers, facts, live, now=now, out=out)
    await uow.session.flush()  # superseded first: one current certificate at a time
    uow.session.add_all(new)
    await uow.session.flush()
    out.issued += [row.id for row in new]
    return out


def _issue_dccs(
    tenant: TenantInfo,
    signers: Signers,
    facts: Facts,
    live: Sequence[Certificate],
    *,
    now: dt.datetime,
    out: Outcome,
) -> list[Certificate]:
    """A DCC for each dose with EU DCC codes that has no current one stating it."""
    current = {r.dose_id: r for r in live if r.format == EU_DCC and r.status == CURRENT}
    new = []
    for dose in facts.doses:
        if dose.content.dcc is None:
            continue  # not an EU DCC product (the configuration check names them)
        held = current.get(dose.id)
        if held is not None:
            if _states_exactly(held, facts, {dose.key: dose.fp}):
                continue
            _supersede(held, now, out)
        row = signing.sign_dcc(tenant, signers, facts, dose, cert_id=uuid7(), now=now)
        if row is not None:
            new.append(row)
    return new


def _issue_shc(
    tenant: TenantInfo,
    signers: Signers,
    facts: Facts,
    live: Sequence[Certificate],
    *,
    now: dt.datetime,
    out: Outcome,
) -> list[Certificate]:
    """One card listing every dose, unless the current one already states exactly that."""
    doses = [d for d in facts.doses if d.content.cvx]
    if len(doses) < len(facts.doses):
        signing.skip(SHC, "no-cvx-code", doses=len(facts.doses) - len(doses))
    wanted = {d.key: d.fp for d in doses}
    held = next((r for r in live if r.format == SHC and r.status == CURRENT), None)
    if held is not None:
        if _states_exactly(held, facts, wanted):
            return []
        _supersede(held, now, out)  # still true (else revoked): valid until it expires
    if not doses:
        return []
    row = signing.sign_shc(tenant, signers, facts, doses, cert_id=uuid7(), now=now)
    return [row] if row is not None else []


async def _audit(uow: UnitOfWork, person_id: uuid.UUID, out: Outcome) -> None:
    await audit.record(
        uow,
        by=SYSTEM,
        action="certificates.recomputed",
        object_type="beneficiary",
        object_id=person_id,
        details={
            "issued": [str(i) for i in out.issued],
            "superseded": out.superseded,
            "revoked": {k.replace("-", "_"): n for k, n in out.revoked.items()},
        },
    )


async def _tell(
    uow: UnitOfWork, tenant: TenantInfo, person_id: uuid.UUID, first: uuid.UUID, base_url: str
) -> None:
    """The essential "certificate ready" message, with the link to the person's page."""
    locale = await notifications.message_locale(uow, tenant_id=tenant.id, subject_id=person_id)
    await notifications.notify(
        uow,
        tenant_id=tenant.id,
        event=READY,
        to=person_id,
        data={"url": base_url.rstrip("/") + PAGE.format(tenant=tenant.code)},
        locale=locale,
        dedup_key=f"{READY}:{first}",
        reason=("certificate", str(first)),
    )
