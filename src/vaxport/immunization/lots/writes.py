"""Row-level steps every way of registering a lot shares: normalise, check, write, audit.

The API, the staff form and the CSV import all come through :func:`check_new` and
:func:`add`, so a lot number typed on a phone, sent by a client or read from a file is
the same lot. Lot numbers are trimmed and upper-cased (printed numbers are read aloud
and retyped) and unique per tenant and product: the database's constraint decides a race.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

from vaxport.core import audit
from vaxport.core.clock import utcnow
from vaxport.core.db import UnitOfWork
from vaxport.core.errors import Conflict, field_error
from vaxport.core.i18n import N_
from vaxport.core.principal import Principal
from vaxport.immunization.models import Lot
from vaxport.tenancy.service import TenantInfo

Errors = list[dict[str, str]]
LOT_NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9./_-]{0,63}$")
# Expiry dates before this are typing errors, not lots.
EARLIEST_EXPIRY = dt.date(2000, 1, 1)
LATEST_YEARS = 30


class LotExists(Conflict):
    """The tenant has a lot with this number for this product already."""

    slug = "lot-exists"


def normalise_lot_number(value: str) -> str:
    """A lot number as stored: trimmed, upper-case."""
    return value.strip().upper()


@dataclass(frozen=True, slots=True)
class NewLot:
    """A checked lot, ready to write."""

    product_id: str
    lot_number: str
    manufacturer: str
    expires_on: dt.date
    doses_per_vial: int | None


def check_expiry(expires_on: dt.date, field: str = "expires_on") -> Errors:
    """The expiry's problems: before 2000 or more than 30 years ahead are typing errors."""
    latest = dt.date(utcnow().year + LATEST_YEARS, 12, 31)
    if not EARLIEST_EXPIRY <= expires_on <= latest:
        return [
            field_error(
                field,
                N_("must be between {earliest} and {latest}"),
                earliest=EARLIEST_EXPIRY.isoformat(),
                latest=latest.isoformat(),
            )
        ]
    return []


def check_new(
    tenant: TenantInfo,
    *,
    product_id: str,
    lot_number: str,
    manufacturer: str | None,
    expires_on: dt.date,
    doses_per_vial: int | None,
) -> NewLot | Errors:
    """The lot's checked values, or every problem (fields as the API names them)."""
    errors: Errors = []
    product = tenant.config.products.get(product_id)
    if product is None:
        errors.append(field_error("product_id", N_("is not a vaccine product of this country")))
    number = normalise_lot_number(lot_number)
    if not LOT_NUMBER.match(number):
        errors.append(field_error("lot_number", N_("use 1-64 letters, digits and . / _ - only")))
    errors += check_expiry(expires_on)
    if doses_per_vial is not None and not 1 <= doses_per_vial <= 100:
        errors.append(field_error("doses_per_vial", N_("must be between 1 and 100")))
    made_by = (manufacturer or "").strip() or (product.manufacturer if product else "")
    if errors or product is None:
        return errors
    return NewLot(product.id, number, made_by[:200], expires_on, doses_per_vial)


def exists(lot_number: str) -> LotExists:
    """The 409 of a second registration of a lot number for a product."""
    return LotExists(
        N_("lot {lot_number} of this product is registered already"),
        params={"lot_number": lot_number},
        errors=[field_error("lot_number", N_("is registered already for this product"))],
    )


def new_row(tenant_id: uuid.UUID, new: NewLot, *, by: Principal, now: dt.datetime) -> Lot:
    """The row of a new lot (not yet added to a session)."""
    return Lot(
        tenant_id=tenant_id,
        product_id=new.product_id,
        lot_number=new.lot_number,
        manufacturer=new.manufacturer,
        expires_on=new.expires_on,
        doses_per_vial=new.doses_per_vial,
        on_hold=False,
        created_by=by.id,
        version=1,
        created_at=now,
        updated_at=now,
    )


async def audit_created(uow: UnitOfWork, lot: Lot, *, by: Principal, source: str) -> None:
    """The audit entry of a new lot (no personal data: lots hold none)."""
    await audit.record(
        uow,
        by=by,
        action="lot.create",
        object_type="lot",
        object_id=lot.id,
        details={"product_id": lot.product_id, "source": source},
    )


def snapshot(lot: Lot) -> dict[str, Any]:
    """The changeable fields of a lot, as audit details compare them."""
    return {
        "on_hold": lot.on_hold,
        "expires_on": lot.expires_on.isoformat(),
        "doses_per_vial": lot.doses_per_vial,
    }
