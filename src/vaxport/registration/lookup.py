"""Read-only questions other contexts ask about registered people (identity's recovery).

Owned by identity's recovery work; registration's own services do not depend on it.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select

from vaxport.core.crypto import CryptoError, blind_match
from vaxport.core.db import Database
from vaxport.registration.models import STATUS_ACTIVE, Beneficiary, BeneficiaryDocument


async def account_holds_member(
    db: Database,
    *,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    id_type: str,
    id_number: str,
    birth_date: dt.date,
) -> bool:
    """Whether an active member of ``account_id`` has this ID document and birth date.

    The document is found by its blind index; the birth date is compared after
    decryption. Always runs the same query, whatever the answer.
    """
    async with db.read(tenant_id=tenant_id) as s:
        try:
            number = await blind_match(
                s,
                BeneficiaryDocument.number_bidx,
                tenant_id=tenant_id,
                kind="id_number",
                value=id_number,
            )
        except CryptoError:
            return False
        members = (
            await s.execute(
                select(Beneficiary)
                .join(BeneficiaryDocument, BeneficiaryDocument.beneficiary_id == Beneficiary.id)
                .where(
                    Beneficiary.tenant_id == tenant_id,
                    Beneficiary.account_id == account_id,
                    Beneficiary.status == STATUS_ACTIVE,
                    BeneficiaryDocument.tenant_id == tenant_id,
                    BeneficiaryDocument.id_type == id_type,
                    number,
                )
            )
        ).scalars()
        try:
            return any(member.birth_date == birth_date for member in members)
        except CryptoError:  # a member whose key was destroyed (erased) proves nothing
            return False
