"""Staff management pages for admins: the team list, invitations, role changes,
disable/enable/reset."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from vaxport.core.errors import NotFound, Problem
from vaxport.core.http.dependencies import Context, Ctx, requires
from vaxport.core.i18n import N_
from vaxport.identity import service as identity
from vaxport.identity.service import Actor, CurrentActor, PathTenant
from vaxport.tenancy.service import TenantInfo
from vaxport.web import centre_picker
from vaxport.web.staff_common import (
    errors_of,
    facility_names,
    locale_of,
    page,
    region_labels,
)

router = APIRouter(include_in_schema=False)
TEAM = "/{tenant}/staff/team"
Field64 = Annotated[str, Form(max_length=64)]


@dataclass(frozen=True, slots=True)
class Member:
    """A row of the team table."""

    view: identity.StaffView
    region_label: str
    manageable: bool


@dataclass(frozen=True, slots=True)
class RegionOption:
    """An entry of the region list, indented by depth."""

    code: str
    label: str


def _regions(request: Request, tenant: TenantInfo, actor: Actor) -> list[RegionOption]:
    labels = region_labels(tenant, locale_of(request, tenant).locale)
    index = tenant.config.region_index
    out = []
    for code, node in sorted(index.items(), key=lambda kv: kv[1].path):
        if actor.covers_region(code):
            out.append(RegionOption(code, "\u2014 " * (node.level - 1) + labels.get(code, code)))
    return out


async def _invite_page(
    request: Request,
    ctx: Context,
    tenant: TenantInfo,
    actor: Actor,
    form: dict[str, str],
    *,
    status: int = 200,
    problem: Problem | None = None,
) -> Response:
    roles = [r for r in identity.STAFF_ROLES if identity.may_assign(actor, r)]
    return page(
        request,
        tenant,
        "staff/invite.html",
        status=status,
        errors=errors_of(problem) if problem else None,
        roles=roles,
        regions=_regions(request, tenant, actor),
        centres=await centre_picker.picker(ctx.db, request, tenant, actor),
        form=form,
    )


def _invited(
    request: Request, tenant: TenantInfo, made: identity.Invitation, *, reset: bool
) -> Response:
    settings = request.app.state.ctx.settings
    return page(
        request,
        tenant,
        "staff/invited.html",
        reset=reset,
        username=made.account.username,
        email=made.account.email,
        url=made.url(settings, tenant.code),
        expires=made.expires_at.strftime("%Y-%m-%d %H:%M"),
    )


@router.api_route(TEAM, methods=["GET", "HEAD"], dependencies=[requires("staff:read")])
async def team(
    *,
    tenant: PathTenant,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    cursor: str | None = None,
) -> Response:
    """The staff the admin can see, with what they may do to each."""
    listing = await identity.list_staff(db=ctx.db, actor=actor, cursor=cursor, limit=50)
    labels = region_labels(tenant, locale_of(request, tenant).locale)
    members = [
        Member(m, labels.get(m.region_code or "", ""), identity.manageable_staff(actor, m))
        for m in listing.items
    ]
    return page(
        request,
        tenant,
        "staff/team.html",
        members=members,
        facility_names=await facility_names(
            ctx.db, request, tenant, [m.facility_id for m in listing.items]
        ),
        next_cursor=listing.next_cursor,
        can_manage=actor.has("staff:manage"),
        notice=None,
    )


@router.api_route(
    TEAM + "/invite", methods=["GET", "HEAD"], dependencies=[requires("staff:manage")]
)
async def invite_form(
    tenant: PathTenant, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """The invitation form."""
    form = dict.fromkeys(("username", "display_name", "email", "role", "region_code"), "")
    form["facility_id"] = ""
    return await _invite_page(request, ctx, tenant, actor, form)


@router.post(TEAM + "/invite", dependencies=[requires("staff:manage")])
async def invite_submit(
    *,
    tenant: PathTenant,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    username: Field64 = "",
    role: Annotated[str, Form(max_length=32)] = "",
    region_code: Field64 = "",
    facility_id: Annotated[str, Form(max_length=64)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=254)] = "",
) -> Response:
    """Create the account; show the activation link to hand over."""
    form = {
        "username": username,
        "role": role,
        "region_code": region_code,
        "facility_id": facility_id,
        "display_name": display_name,
        "email": email,
    }
    try:
        facility = (
            await centre_picker.resolve(ctx.db, tenant, actor, facility_id)
            if facility_id.strip()
            else None
        )
        made = await identity.create_staff(
            db=ctx.db,
            settings=ctx.settings,
            tenant=tenant,
            actor=actor,
            username=username,
            role=role,
            region_code=region_code or None,
            facility_id=facility,
            display_name=display_name or None,
            email=email or None,
        )
    except Problem as exc:
        if exc.status >= 500:
            raise
        return await _invite_page(request, ctx, tenant, actor, form, status=exc.status, problem=exc)
    return _invited(request, tenant, made, reset=False)


async def _role_page(
    request: Request,
    ctx: Context,
    tenant: TenantInfo,
    actor: Actor,
    account_id: uuid.UUID,
    *,
    status: int = 200,
    problem: Problem | None = None,
) -> Response:
    member = await identity.get_staff(db=ctx.db, actor=actor, account_id=account_id)
    if not identity.manageable_staff(actor, member):
        raise NotFound(N_("staff member not found"))
    labels = region_labels(tenant, locale_of(request, tenant).locale)
    return page(
        request,
        tenant,
        "staff/role.html",
        status=status,
        errors=errors_of(problem) if problem else None,
        member=Member(member, labels.get(member.region_code or "", ""), True),
        facility_names=await facility_names(ctx.db, request, tenant, [member.facility_id]),
        roles=[r for r in identity.STAFF_ROLES if identity.may_assign(actor, r)],
    )


@router.api_route(
    TEAM + "/{account_id}/role", methods=["GET", "HEAD"], dependencies=[requires("staff:manage")]
)
async def role_form(
    *, tenant: PathTenant, account_id: uuid.UUID, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """Change a member's role: only roles the admin may give, for a member they manage."""
    return await _role_page(request, ctx, tenant, actor, account_id)


@router.post(TEAM + "/{account_id}/role", dependencies=[requires("staff:manage")])
async def role_submit(
    *,
    tenant: PathTenant,
    account_id: uuid.UUID,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    role: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Give the new role at the member's current place (audited by the staff use case)."""
    member = await identity.get_staff(db=ctx.db, actor=actor, account_id=account_id)
    try:
        await identity.change_staff(
            db=ctx.db,
            cache=ctx.cache,
            tenant=tenant,
            actor=actor,
            account_id=account_id,
            role=role,
            region_code=member.region_code,
            facility_id=member.facility_id,
        )
    except Problem as exc:
        if exc.status >= 500 or exc.status == 404:
            raise
        return await _role_page(
            request, ctx, tenant, actor, account_id, status=exc.status, problem=exc
        )
    return RedirectResponse(f"/{tenant.code}/staff/team", status_code=303)


@router.post(TEAM + "/{account_id}/disable", dependencies=[requires("staff:manage")])
async def disable(
    *, tenant: PathTenant, account_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> Response:
    """Disable the account (its sessions end at once); back to the team."""
    await identity.set_staff_status(
        db=ctx.db, cache=ctx.cache, actor=actor, account_id=account_id, enabled=False
    )
    return RedirectResponse(f"/{tenant.code}/staff/team", status_code=303)


@router.post(TEAM + "/{account_id}/enable", dependencies=[requires("staff:manage")])
async def enable(
    *, tenant: PathTenant, account_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> Response:
    """Enable the account again; back to the team."""
    await identity.set_staff_status(
        db=ctx.db, cache=ctx.cache, actor=actor, account_id=account_id, enabled=True
    )
    return RedirectResponse(f"/{tenant.code}/staff/team", status_code=303)


@router.post(TEAM + "/{account_id}/reset", dependencies=[requires("staff:manage")])
async def reset(
    *, tenant: PathTenant, account_id: uuid.UUID, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """Void the person's password and authenticator; a new activation link."""
    made = await identity.reset_staff(
        db=ctx.db,
        cache=ctx.cache,
        settings=ctx.settings,
        actor=actor,
        account_id=account_id,
        tenant_code=tenant.code,
    )
    return _invited(request, tenant, made, reset=True)
