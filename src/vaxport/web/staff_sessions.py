"""Staff pages: a centre's sessions by day, publishing one (or a weekly series), and
cancelling one after a confirmation.

For facility managers, and region and national admins (``slots:write``). Managers publish
at their own centre; admins choose one from the centres in their reach
(``web/centre_picker.py``). Everything works without script: plain forms, an error
summary linking to each input, a confirmation page before a cancellation.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from babel.dates import format_date, get_day_names
from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from vaxport.core.errors import NotFound, Problem, ValidationFailed, from_validation
from vaxport.core.http.dependencies import Context, Ctx, requires
from vaxport.core.i18n import N_
from vaxport.facilities import service as facilities
from vaxport.identity.service import Actor, CurrentActor, PathTenant
from vaxport.scheduling import service as scheduling
from vaxport.tenancy.service import TenantInfo
from vaxport.web import centre_picker
from vaxport.web.problems import FormError, field_errors
from vaxport.web.staff_common import errors_of, facility_names, locale_of, page, text_in

router = APIRouter(include_in_schema=False)
SESSIONS = "/{tenant}/staff/sessions"
WRITE = requires("slots:write")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FIELDS = (
    "facility_id",
    "day",
    "start_time",
    "end_time",
    "product_id",
    "slot_minutes",
    "capacity_per_slot",
    "min_age",
    "max_age",
    "repeat_until",
    "note",
)
LISTS = ("dose_numbers", "groups", "repeat_weekdays")
MAX_VALUE = 500
# Where the API's field paths point on the form.
_INPUTS: dict[str, str] = {
    "eligibility.min_age": "min_age",
    "eligibility.max_age": "max_age",
    "repeat": "repeat_until",
    "repeat.until": "repeat_until",
    "repeat.weekdays": "repeat_weekdays",
    **{f"repeat.weekdays.{i}": "repeat_weekdays" for i in range(7)},
    **{f"dose_numbers.{i}": "dose_numbers" for i in range(20)},
    "eligibility.groups": "groups",
    **{f"eligibility.groups.{i}": "groups" for i in range(30)},
}


@dataclass(frozen=True, slots=True)
class Choice:
    """One option of a list, checkbox or select."""

    value: str
    label: str


@dataclass(frozen=True, slots=True)
class Day:
    """The sessions of one local day, under its heading."""

    label: str
    items: list[scheduling.SessionOut]


def _babel(request: Request, tenant: TenantInfo) -> str:
    return locale_of(request, tenant).locale.replace("-", "_")


async def _products(ctx: Context, tenant: TenantInfo, actor: Actor) -> list[Choice]:
    """The vaccines a session may be for: the actor's centre's, or the whole catalogue."""
    config = tenant.config
    wanted = [p.id for p in config.vaccines if p.active]
    if actor.facility_id is not None:
        try:
            centre = await facilities.get(db=ctx.db, tenant=tenant, facility_id=actor.facility_id)
        except NotFound:
            return []
        wanted = [p for p in wanted if p in centre.vaccines]
    return [Choice(p, config.products[p].name) for p in wanted]


def _groups(request: Request, tenant: TenantInfo) -> list[Choice]:
    config = tenant.config
    if config.eligibility is None:
        return []
    locale = locale_of(request, tenant).locale
    return [
        Choice(g.code, text_in(g.name, locale, config.default_locale))
        for g in config.eligibility.groups
    ]


async def _form_page(
    request: Request,
    ctx: Context,
    tenant: TenantInfo,
    actor: Actor,
    form: dict[str, Any],
    *,
    status: int = 200,
    errors: list[FormError] | None = None,
) -> Response:
    needs_facility = actor.facility_id is None
    products = await _products(ctx, tenant, actor)
    top = max((scheduling.max_dose_number(tenant.config, p.value) for p in products), default=2)
    names = get_day_names("wide", locale=_babel(request, tenant))
    return page(
        request,
        tenant,
        "staff/session_form.html",
        status=status,
        errors=errors,
        nav_current="sessions",
        form=form,
        needs_facility=needs_facility,
        centres=await centre_picker.picker(ctx.db, request, tenant, actor)
        if needs_facility
        else None,
        products=products,
        doses=[str(n) for n in range(1, top + 1)],
        groups=_groups(request, tenant),
        weekdays=[Choice(code, names[i]) for i, code in enumerate(WEEKDAYS)],
        default_minutes=tenant.config.booking.slot_minutes,
    )


def _local_today(tenant: TenantInfo) -> dt.date:
    return tenant.config.local_today()


@router.api_route(SESSIONS, methods=["GET", "HEAD"], dependencies=[WRITE])
async def sessions_list(
    tenant: PathTenant, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """The sessions to come at the centres in reach, by day, with seats booked."""
    cursor = request.query_params.get("cursor") or None
    try:
        query = scheduling.ListQuery(
            from_day=_local_today(tenant), cursor=cursor[:128] if cursor else None, limit=100
        )
        found = await scheduling.list_sessions(db=ctx.db, tenant=tenant, actor=actor, query=query)
    except ValidationFailed:  # a cursor from another list, or edited
        return RedirectResponse(f"/{tenant.code}/staff/sessions", status_code=303)
    babel = _babel(request, tenant)
    days: dict[dt.date, list[scheduling.SessionOut]] = {}
    for item in found.items:
        days.setdefault(item.day, []).append(item)
    grouped = [Day(format_date(d, "full", locale=babel), items) for d, items in days.items()]
    names = {p.id: p.name for p in tenant.config.vaccines}
    done = request.query_params.get("done")
    return page(
        request,
        tenant,
        "staff/sessions.html",
        nav_current="sessions",
        days=grouped,
        next_cursor=found.next_cursor,
        product_names=names,
        facility_names=await facility_names(
            ctx.db, request, tenant, {i.facility_id for i in found.items}
        ),
        show_centre=actor.facility_id is None,
        done=done if done in ("published", "cancelled") else None,
        count=_count(request.query_params.get("n")),
    )


def _count(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 6 else 0


@router.api_route(SESSIONS + "/new", methods=["GET", "HEAD"], dependencies=[WRITE])
async def new_session_form(
    tenant: PathTenant, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """The publish form (tomorrow, 09:00 to 12:00, the tenant's slot length)."""
    form: dict[str, Any] = {
        "day": (_local_today(tenant) + dt.timedelta(days=1)).isoformat(),
        "start_time": "09:00",
        "end_time": "12:00",
        "slot_minutes": str(tenant.config.booking.slot_minutes),
        "capacity_per_slot": "2",
        "dose_numbers": ["1"],
    }
    return await _form_page(request, ctx, tenant, actor, form)


async def _read(request: Request) -> dict[str, Any]:
    submitted = await request.form()
    form: dict[str, Any] = {}
    for name in FIELDS:
        value = submitted.get(name)
        form[name] = value.strip()[:MAX_VALUE] if isinstance(value, str) else ""
    for name in LISTS:
        form[name] = [v.strip()[:64] for v in submitted.getlist(name) if isinstance(v, str)][:30]
    return form


def _body(form: dict[str, Any], facility_id: uuid.UUID) -> dict[str, Any]:
    """The API request of a filled-in form (empty fields left out)."""
    body: dict[str, Any] = {
        "facility_id": str(facility_id),
        "dose_numbers": form["dose_numbers"],
        **{
            k: form[k]
            for k in ("day", "start_time", "end_time", "product_id", "capacity_per_slot", "note")
            if form[k]
        },
    }
    if form["slot_minutes"]:
        body["slot_minutes"] = form["slot_minutes"]
    eligibility = {k: form[k] for k in ("min_age", "max_age") if form[k]}
    if form["groups"]:
        eligibility["groups"] = form["groups"]
    if eligibility:
        body["eligibility"] = eligibility
    if form["repeat_weekdays"] or form["repeat_until"]:
        body["repeat"] = {"weekdays": form["repeat_weekdays"]}
        if form["repeat_until"]:
            body["repeat"]["until"] = form["repeat_until"]
    return body


def _problems(exc: Problem | ValidationError) -> list[FormError]:
    if isinstance(exc, ValidationError):
        exc = ValidationFailed(N_("the form has problems"), errors=from_validation(exc.errors()))
    if not exc.errors:
        return errors_of(exc)
    return field_errors(exc, inputs=_INPUTS)


@router.post(SESSIONS + "/new", dependencies=[WRITE])
async def new_session_submit(
    tenant: PathTenant, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """Publish; back to the list, which says how many sessions were published."""
    form = await _read(request)
    try:
        if actor.facility_id is None:
            facility_id = await centre_picker.resolve(ctx.db, tenant, actor, form["facility_id"])
        else:
            facility_id = actor.facility_id
        body = scheduling.SessionIn.model_validate(_body(form, facility_id))
        made = await scheduling.publish_session(
            db=ctx.db, cache=ctx.cache, tenant=tenant, actor=actor, body=body
        )
    except (Problem, ValidationError) as exc:
        status = exc.status if isinstance(exc, Problem) else 422
        if status >= 500:
            raise
        return await _form_page(
            request, ctx, tenant, actor, form, status=status, errors=_problems(exc)
        )
    where = f"/{tenant.code}/staff/sessions?done=published&n={len(made.sessions)}"
    return RedirectResponse(where, status_code=303)


async def _cancel_page(
    request: Request,
    ctx: Context,
    tenant: TenantInfo,
    actor: Actor,
    session_id: uuid.UUID,
    *,
    status: int = 200,
    errors: list[FormError] | None = None,
) -> Response:
    found = await scheduling.get_session(
        db=ctx.db, tenant=tenant, actor=actor, session_id=session_id
    )
    return page(
        request,
        tenant,
        "staff/session_cancel.html",
        status=status,
        errors=errors,
        nav_current="sessions",
        item=found,
        day_label=format_date(found.day, "full", locale=_babel(request, tenant)),
        product_name=tenant.config.products[found.product_id].name
        if found.product_id in tenant.config.products
        else found.product_id,
        facility_names=await facility_names(ctx.db, request, tenant, [found.facility_id]),
    )


@router.api_route(SESSIONS + "/{session_id}/cancel", methods=["GET", "HEAD"], dependencies=[WRITE])
async def cancel_confirm(
    tenant: PathTenant, session_id: uuid.UUID, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """What cancelling will do (how many people are told), and the button to do it."""
    return await _cancel_page(request, ctx, tenant, actor, session_id)


@router.post(SESSIONS + "/{session_id}/cancel", dependencies=[WRITE])
async def cancel_submit(
    tenant: PathTenant, session_id: uuid.UUID, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """Cancel; back to the list, which says how many people were released."""
    try:
        ended = await scheduling.cancel_session(
            db=ctx.db, cache=ctx.cache, tenant=tenant, actor=actor, session_id=session_id
        )
    except NotFound:
        raise
    except Problem as exc:
        if exc.status >= 500:
            raise
        return await _cancel_page(
            request, ctx, tenant, actor, session_id, status=exc.status, errors=errors_of(exc)
        )
    where = f"/{tenant.code}/staff/sessions?done=cancelled&n={ended.released}"
    return RedirectResponse(where, status_code=303)
