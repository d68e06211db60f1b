"""Telling admins: a serious adverse event report, and a lot flagged by serious reports.

One outbox subscriber turns ``aefi.serious`` and ``lot.flagged`` into messages queued
with ``notifications.notify`` for each admin over the report's region (identity's
``admins_over``: its region admins, or the national admins when none). A message goes to
the admin's account id: the staff contact resolver finds their e-mail or phone. Each
message names its report (or lot) and admin in its dedup key, so a redelivered event
queues nothing twice. The values name the product, the lot and the region, never the
person or their symptoms.
"""

from __future__ import annotations

import uuid

from vaxport.core.db import UnitOfWork
from vaxport.core.outbox import Event, HandlerContext, Subscriber
from vaxport.identity import service as identity
from vaxport.immunization.aefi.events import AEFI_SERIOUS
from vaxport.immunization.lots.events import LOT_FLAGGED
from vaxport.immunization.lots.service import find_lot
from vaxport.notifications import service as notifications
from vaxport.tenancy.service import TenantInfo, get_tenant_by_id, localized

SERIOUS_MESSAGE = "aefi_serious"
FLAGGED_MESSAGE = "lot_flagged"
REPORT_API = "/api/v1/{tenant}/aefi/{report_id}"
LOTS_PAGE = "/{tenant}/staff/lots"


def _region_name(tenant: TenantInfo, code: str) -> str:
    for item in tenant.config.regions.items:
        if item.code == code:
            return localized(item.name, tenant.config.default_locale, tenant.config.default_locale)
    return code


def _product_name(tenant: TenantInfo, product_id: str | None) -> str:
    product = tenant.config.products.get(product_id or "")
    return product.name if product is not None else (product_id or "-")


async def _lot_number(uow: UnitOfWork, tenant: TenantInfo, lot_id: str | None) -> str:
    if not lot_id:
        return "-"
    lot = await find_lot(uow.session, tenant.id, lot_id=uuid.UUID(lot_id))
    return lot.lot_number if lot is not None else "-"


async def on_aefi_event(event: Event, ctx: HandlerContext) -> None:
    """Queue a message to each admin over the event's region (idempotent)."""
    if event.tenant_id is None:
        return
    tenant = await get_tenant_by_id(db=ctx.db, cache=ctx.cache, tenant_id=event.tenant_id)
    payload = event.payload
    region = str(payload.get("region_code") or "")
    base = ctx.settings.public_url.rstrip("/")
    async with ctx.db.transaction(tenant_id=tenant.id) as uow:
        admins = await identity.admins_over(uow, tenant=tenant, region_code=region)
        data = {
            "product": _product_name(tenant, payload.get("product_id")),
            "lot": await _lot_number(uow, tenant, payload.get("lot_id")),
            "region": _region_name(tenant, region),
        }
        if event.event_type == AEFI_SERIOUS:
            message, about = SERIOUS_MESSAGE, str(payload["report_id"])
            data["url"] = base + REPORT_API.format(tenant=tenant.code, report_id=about)
        else:
            message, about = FLAGGED_MESSAGE, str(payload["lot_id"])
            data["url"] = base + LOTS_PAGE.format(tenant=tenant.code)
        for admin in admins:
            await notifications.notify(
                uow,
                tenant_id=tenant.id,
                event=message,
                to=admin,
                data=data,
                dedup_key=f"{message}:{about}:{admin}",
                urgent=True,
            )


SUBSCRIBERS: tuple[Subscriber, ...] = (
    Subscriber.each("immunization.aefi-admins", (AEFI_SERIOUS, LOT_FLAGGED), on_aefi_event),
)
