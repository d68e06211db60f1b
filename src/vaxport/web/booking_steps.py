"""The steps of the citizen booking pages, shared by booking and moving an appointment.

A :class:`Flow` is one walk through place -> day -> slot -> confirm: booking for a family
member (``/{tenant}/book/{member_id}``) or moving one of their appointments to another
slot of the same product and dose (``/{tenant}/appointments/{id}/move``). Each step is a
plain GET page of links (no script); the last one posts. Dates and times are shown in the
tenant's time zone, in the page's language.

Every refusal of the booking service becomes a sentence (``booking_words.py``); the
confirmation then offers a way forward (another slot, another place, the person's
appointments).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from vaxport.core.errors import NotFound, Problem, invalid
from vaxport.core.http.dependencies import Ctx
from vaxport.core.i18n import N_
from vaxport.facilities import service as facilities
from vaxport.facilities.service import DirectoryQuery
from vaxport.identity.service import Actor, refuse_if_held
from vaxport.registration.service import MemberOut
from vaxport.scheduling import service as scheduling
from vaxport.scheduling.service import AppointmentOut
from vaxport.tenancy.service import TenantInfo, localized
from vaxport.web import booking_words as words
from vaxport.web.facilities import RegionOption
from vaxport.web.problems import FormError, field_errors
from vaxport.web.staff_common import locale_of, page

_NOT_POSTAL = N_("is not a postal code: check what you typed")
_NOT_REGION = N_("is not a region: choose one from the list")


@dataclass(frozen=True, slots=True)
class Place:
    """A centre as the steps show it."""

    id: uuid.UUID
    name: str
    address: str | None
    postal_code: str | None


@dataclass(frozen=True, slots=True)
class Flow:
    """One walk through the steps: for whom, narrowed to what, and where the steps live."""

    base: str
    member: MemberOut
    product_id: str | None = None
    dose_number: int | None = None
    moving: AppointmentOut | None = None

    def days_url(self, facility_id: uuid.UUID) -> str:
        return f"{self.base}/at/{facility_id}"

    def slots_url(self, facility_id: uuid.UUID, day: dt.date) -> str:
        return f"{self.base}/at/{facility_id}/{day.isoformat()}"

    def confirm_url(self, slot_id: uuid.UUID) -> str:
        return f"{self.base}/confirm?{urlencode({'slot': str(slot_id)})}"


def citizen(actor: Actor | None, tenant: TenantInfo) -> Actor | None:
    """The signed-in citizen of this tenant, or None (then: to the sign-in page)."""
    if actor is None or actor.kind != "citizen" or actor.tenant_code != tenant.code:
        return None
    refuse_if_held(actor, "appointments:read")  # just recovered: not the family yet
    return actor


def to_sign_in(request: Request, tenant: TenantInfo) -> Response:
    """To the sign-in page, coming back here afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/{tenant.code}/sign-in?next={quote(here, safe='')}", status_code=303)


async def places(
    ctx: Ctx, request: Request, tenant: TenantInfo, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Place]:
    """Centres by id, named in the page's language (unknown ids left out)."""
    locale = locale_of(request, tenant).locale
    out = {}
    for facility_id in dict.fromkeys(ids):
        try:
            found = await facilities.get(db=ctx.db, tenant=tenant, facility_id=facility_id)
        except NotFound:
            continue
        name = localized(found.name, locale, tenant.config.default_locale)
        out[facility_id] = Place(facility_id, name, found.address, found.postal_code)
    return out


async def place_or_404(ctx: Ctx, request: Request, tenant: TenantInfo, id_: uuid.UUID) -> Place:
    """One centre, or 404."""
    found = await places(ctx, request, tenant, [id_])
    if id_ not in found:
        raise NotFound(N_("no such facility"))
    return found[id_]


def _regions(request: Request, tenant: TenantInfo) -> list[RegionOption]:
    config = tenant.config
    index = config.region_index
    locale = locale_of(request, tenant).locale
    return [
        RegionOption(r.code, localized(r.name, locale, config.default_locale), index[r.code].level)
        for r in sorted(config.regions.items, key=lambda r: index[r.code].path)
    ]


def _subtree(tenant: TenantInfo, code: str) -> list[str]:
    index = tenant.config.region_index
    root = index[code].path
    return [c for c, node in index.items() if node.path.startswith(root)]


async def _area(
    ctx: Ctx, tenant: TenantInfo, flow: Flow, region: str, postal_code: str
) -> tuple[dict[uuid.UUID, int], list[FormError]]:
    """Free seats per centre of the area asked (a postal code wins over a region)."""
    if postal_code:
        try:
            query = DirectoryQuery(postal_code=postal_code, limit=100)
        except ValidationError:
            return {}, field_errors(invalid("postal_code", _NOT_POSTAL))
        found = await facilities.list_public(db=ctx.db, tenant=tenant, query=query)
        ids = [f.id for f in found.items]
        if not ids:
            return {}, []
        return await scheduling.open_places(
            db=ctx.db,
            tenant=tenant,
            facility_ids=ids,
            product_id=flow.product_id,
            dose_number=flow.dose_number,
        ), []
    codes = _subtree(tenant, region)
    return await scheduling.open_places(
        db=ctx.db,
        tenant=tenant,
        region_codes=codes,
        product_id=flow.product_id,
        dose_number=flow.dose_number,
    ), []


async def place_step(ctx: Ctx, request: Request, tenant: TenantInfo, flow: Flow) -> Response:
    """Where: centres of a region (the member's own at first) or postal code, with seats."""
    asked = request.query_params
    region = (asked.get("region") or "").strip()[:64]
    postal_code = (asked.get("postal_code") or "").strip()[:20]
    if not region and not postal_code and "region" not in asked:
        region = flow.member.region_code
    errors: list[FormError] = []
    if region and region not in tenant.config.region_index:
        errors = field_errors(invalid("region", _NOT_REGION))
        region = ""
    seats: dict[uuid.UUID, int] = {}
    if not errors and (region or postal_code):
        seats, errors = await _area(ctx, tenant, flow, region, postal_code)
    found = await places(ctx, request, tenant, seats)
    listed = sorted(
        ((found[i], n) for i, n in seats.items() if i in found), key=lambda p: p[0].name
    )
    return page(
        request,
        tenant,
        "booking/place.html",
        status=422 if errors else 200,
        errors=errors,
        nav_current="family",
        flow=flow,
        name=words.name_of(flow.member),
        regions=_regions(request, tenant),
        region=region,
        postal_code=postal_code,
        searched=bool(region or postal_code),
        places=listed,
        days_ahead=tenant.config.booking.days_ahead,
    )


async def days_step(
    ctx: Ctx, request: Request, tenant: TenantInfo, flow: Flow, facility_id: uuid.UUID
) -> Response:
    """When: the days of the booking window with free seats at the centre."""
    place = await place_or_404(ctx, request, tenant, facility_id)
    days = await scheduling.open_days(
        db=ctx.db,
        tenant=tenant,
        facility_id=facility_id,
        product_id=flow.product_id,
        dose_number=flow.dose_number,
    )
    return page(
        request,
        tenant,
        "booking/days.html",
        nav_current="family",
        flow=flow,
        name=words.name_of(flow.member),
        place=place,
        days=[
            (d, words.day_text(request, tenant, d), n, flow.slots_url(facility_id, d))
            for d, n in days
        ],
        days_ahead=tenant.config.booking.days_ahead,
    )


async def slots_step(
    ctx: Ctx,
    request: Request,
    tenant: TenantInfo,
    flow: Flow,
    *,
    facility_id: uuid.UUID,
    day: dt.date,
) -> Response:
    """What time: the day's slots with free seats, each leading to the confirmation."""
    place = await place_or_404(ctx, request, tenant, facility_id)
    slots = await scheduling.open_slots(
        db=ctx.db,
        tenant=tenant,
        facility_id=facility_id,
        day=day,
        product_id=flow.product_id,
        dose_number=flow.dose_number,
    )
    shown = [
        {
            "time": words.time_text(request, tenant, s.starts_at),
            "until": words.time_text(request, tenant, s.ends_at),
            "remaining": s.remaining,
            "vaccine": words.product_name(tenant, s.product_id),
            "url": flow.confirm_url(s.id),
        }
        for s in slots
        if flow.moving is None or s.id != flow.moving.slot_id
    ]
    return page(
        request,
        tenant,
        "booking/slots.html",
        nav_current="family",
        flow=flow,
        name=words.name_of(flow.member),
        place=place,
        day=words.day_text(request, tenant, day),
        slots=shown,
    )


async def slot_summary(
    ctx: Ctx, request: Request, tenant: TenantInfo, slot_id: uuid.UUID | None
) -> dict[str, Any] | None:
    """A slot as the confirmation shows it (place, day, time, vaccine); None when unknown."""
    if slot_id is None:
        return None
    info = await scheduling.slot_info(db=ctx.db, tenant=tenant, slot_id=slot_id)
    if info is None:
        return None
    found = await places(ctx, request, tenant, [info.facility_id])
    return {
        "id": info.id,
        "facility_id": info.facility_id,
        "place": found.get(info.facility_id),
        "day": words.day_text(request, tenant, info.day),
        "time": words.time_text(request, tenant, info.starts_at),
        "until": words.time_text(request, tenant, info.ends_at),
        "vaccine": words.product_name(tenant, info.product_id),
        "remaining": info.remaining,
    }


def parse_slot(value: str | None) -> uuid.UUID | None:
    """A slot id from a link or a form (None: absent or not an id)."""
    try:
        return uuid.UUID((value or "").strip()[:64])
    except ValueError:
        return None


async def confirm_step(
    ctx: Ctx,
    request: Request,
    tenant: TenantInfo,
    flow: Flow,
    slot_id: uuid.UUID | None,
    *,
    problem: Problem | None = None,
) -> Response:
    """Check and confirm: who, where, when; the booking service's refusal, if it refused."""
    slot = await slot_summary(ctx, request, tenant, slot_id)
    name = words.name_of(flow.member)
    errors: list[FormError] = []
    codes: set[str] = set()
    status = 200
    if problem is not None:
        errors = words.refusal_errors(request, tenant, problem, name=name)
        codes = words.codes_of(problem)
        status = problem.status
    elif slot is None:
        errors = words.unknown_slot()
        status = 404
    return page(
        request,
        tenant,
        "booking/confirm.html",
        status=status,
        errors=errors,
        nav_current="family",
        flow=flow,
        name=name,
        slot=slot,
        codes=codes,
        moving=await _moving(ctx, request, tenant, flow),
    )


async def _moving(
    ctx: Ctx, request: Request, tenant: TenantInfo, flow: Flow
) -> dict[str, Any] | None:
    if flow.moving is None:
        return None
    named = await places(ctx, request, tenant, [flow.moving.facility_id])
    return appointment_view(request, tenant, flow.moving, named)


def appointment_view(
    request: Request,
    tenant: TenantInfo,
    appointment: AppointmentOut,
    named: Mapping[uuid.UUID, Place],
) -> dict[str, Any]:
    """An appointment as the pages show it."""
    cutoff = appointment.starts_at - dt.timedelta(hours=tenant.config.booking.cancel_cutoff_hours)
    held = appointment.hold_expires_at
    return {
        "id": appointment.id,
        "code": appointment.booking_code,
        "status": appointment.status,
        "place": named.get(appointment.facility_id),
        "day": words.day_text(request, tenant, appointment.day),
        "time": words.time_text(request, tenant, appointment.starts_at),
        "vaccine": words.product_name(tenant, appointment.product_id),
        "dose_number": appointment.dose_number,
        "beneficiary_id": appointment.beneficiary_id,
        "facility_id": appointment.facility_id,
        "until_day": words.day_text(request, tenant, words.local(tenant, cutoff).date()),
        "until_time": words.time_text(request, tenant, cutoff),
        "hold_day": (
            words.day_text(request, tenant, words.local(tenant, held).date()) if held else None
        ),
        "hold_time": words.time_text(request, tenant, held) if held else None,
    }
