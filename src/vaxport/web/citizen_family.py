"""Citizen pages: "My family" — the people an account manages, adding one, changing their
details (the risk groups and occupations they declare among them), and asking for a
correction of a name, birth date or ID number.

Pages need a signed-in citizen (others are sent to the sign-in page); every form posts
with its CSRF token and answers with a redirect (303) on success, or the same page with
an error summary whose entries link to the inputs (422/409).
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from vaxport.core.errors import Problem
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.identity.service import (
    Actor,
    CurrentActor,
    OptionalActor,
    PathTenant,
    client_ip,
    refuse_if_held,
)
from vaxport.registration import service
from vaxport.registration.service import ContactCodeIn, MemberIn, MemberOut, MemberUpdate
from vaxport.tenancy.service import TenantInfo
from vaxport.web import person_form
from vaxport.web.staff_common import FormError, locale_of, page, region_labels

router = APIRouter(include_in_schema=False)
FAMILY = "/{tenant}/family"
GET = ["GET", "HEAD"]
PAGE = requires("pages:read", public=True)
WRITE = requires("beneficiaries:write")
EDITABLE = ("sex", "region_code", "preferred_locale", "guardian_relation")
CORRECTION_FIELDS = ("field", "value", "id_type", "reason")
Short = Annotated[str, Form(max_length=254)]
ADD = "citizen/family_add.html"
EDIT = "citizen/family_edit.html"
CONTACT = "citizen/family_contact.html"
NOTICES = frozenset({"added", "claimed", "saved", "requested", "withdrawn"})


def _citizen(actor: Actor | None, tenant: TenantInfo) -> Actor | None:
    if actor is None or actor.kind != "citizen" or actor.tenant_code != tenant.code:
        return None
    refuse_if_held(actor, "beneficiaries:read")  # just recovered: not the family yet
    return actor


def _to_sign_in(tenant: TenantInfo) -> Response:
    return RedirectResponse(f"/{tenant.code}/sign-in", status_code=303)


def _back(tenant: TenantInfo, notice: str) -> Response:
    return RedirectResponse(f"/{tenant.code}/family?done={notice}", status_code=303)


@router.api_route(FAMILY, methods=GET, dependencies=[PAGE])
async def family(
    *, tenant: PathTenant, ctx: Ctx, actor: OptionalActor, request: Request, done: str = ""
) -> Response:
    """The people the account manages."""
    me = _citizen(actor, tenant)
    if me is None:
        return _to_sign_in(tenant)
    members = await service.list_members(db=ctx.db, tenant=tenant, actor=me, limit=50)
    room = tenant.config.family.max_beneficiaries_per_account - len(members.items)
    return page(
        request,
        tenant,
        "citizen/family.html",
        nav_current="family",
        members=members.items,
        room=max(room, 0),
        regions=region_labels(tenant, locale_of(request, tenant).locale),
        notice=done if done in NOTICES else None,
    )


@router.api_route(FAMILY + "/add", methods=GET, dependencies=[PAGE])
async def add_form(
    tenant: PathTenant, ctx: Ctx, actor: OptionalActor, request: Request
) -> Response:
    """The form to add a family member; when the family is full, why not and what to do."""
    me = _citizen(actor, tenant)
    if me is None:
        return _to_sign_in(tenant)
    limit = tenant.config.family.max_beneficiaries_per_account
    members = await service.list_members(db=ctx.db, tenant=tenant, actor=me, limit=limit)
    if len(members.items) >= limit:
        return page(request, tenant, ADD, nav_current="family", full=True, limit=limit)
    return person_form.form_page(
        request, tenant, ADD, {"sex": "unknown"}, nav_current="family", full=False, limit=limit
    )


@router.post(FAMILY + "/add", dependencies=[WRITE])
async def add_submit(
    tenant: PathTenant, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """Register the member under the account."""
    form = await person_form.read(request) | await person_form.read_declared(request, tenant)
    try:
        body = MemberIn.model_validate(person_form.member_body(form))
        async with service.disclosure_budget(request.scope, actor):
            await service.register_member(db=ctx.db, tenant=tenant, actor=actor, body=body)
    except (Problem, ValidationError) as exc:
        status = exc.status if isinstance(exc, Problem) else 422
        if status >= 500:
            raise
        errors = person_form.problems(request, tenant, exc)
        return person_form.form_page(
            request,
            tenant,
            ADD,
            form,
            status=status,
            errors=errors,
            nav_current="family",
            full=False,
            limit=tenant.config.family.max_beneficiaries_per_account,
        )
    return _back(tenant, "added")


async def _member(
    ctx: Ctx, tenant: TenantInfo, actor: Actor, beneficiary_id: uuid.UUID
) -> MemberOut:
    return await service.get_member(
        db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=beneficiary_id
    )


@router.api_route(FAMILY + "/{beneficiary_id}/edit", methods=GET, dependencies=[PAGE])
async def edit_form(
    tenant: PathTenant, beneficiary_id: uuid.UUID, ctx: Ctx, actor: OptionalActor, request: Request
) -> Response:
    """The details a family can change themselves."""
    me = _citizen(actor, tenant)
    if me is None:
        return _to_sign_in(tenant)
    member = await _member(ctx, tenant, me, beneficiary_id)
    form: dict[str, Any] = {k: str(getattr(member, k) or "") for k in EDITABLE}
    form |= {k: getattr(member, k) for k in person_form.declared_kinds(tenant)}
    return person_form.form_page(request, tenant, EDIT, form, nav_current="family", member=member)


@router.post(FAMILY + "/{beneficiary_id}/edit", dependencies=[WRITE])
async def edit_submit(
    tenant: PathTenant, beneficiary_id: uuid.UUID, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """Save the changed details."""
    form = await person_form.read(request, EDITABLE)
    declared = await person_form.read_declared(request, tenant)
    changes: dict[str, Any] = {k: (form[k] or None) for k in EDITABLE} | declared
    try:
        body = MemberUpdate.model_validate(changes)
        await service.update_member(
            db=ctx.db,
            tenant=tenant,
            actor=actor,
            beneficiary_id=beneficiary_id,
            body=body,
            settings=ctx.settings,
        )
    except (Problem, ValidationError) as exc:
        status = exc.status if isinstance(exc, Problem) else 422
        if status >= 500 or status == 404:
            raise
        member = await _member(ctx, tenant, actor, beneficiary_id)
        errors = person_form.problems(request, tenant, exc)
        return person_form.form_page(
            request,
            tenant,
            EDIT,
            form | declared,
            status=status,
            errors=errors,
            nav_current="family",
            member=member,
        )
    return _back(tenant, "saved")


async def _correct_page(
    request: Request,
    ctx: Ctx,
    *,
    tenant: TenantInfo,
    actor: Actor,
    beneficiary_id: uuid.UUID,
    form: dict[str, str],
    status: int = 200,
    errors: list[FormError] | None = None,
) -> Response:
    member = await _member(ctx, tenant, actor, beneficiary_id)
    history = await service.correction_history(db=ctx.db, actor=actor, beneficiary_id=member.id)
    return person_form.form_page(
        request,
        tenant,
        "citizen/family_correct.html",
        form,
        status=status,
        errors=errors,
        nav_current="family",
        member=member,
        history=history,
    )


@router.api_route(FAMILY + "/{beneficiary_id}/correct", methods=GET, dependencies=[PAGE])
async def correct_form(
    tenant: PathTenant, beneficiary_id: uuid.UUID, ctx: Ctx, actor: OptionalActor, request: Request
) -> Response:
    """Ask for a correction; the requests made so far and what became of them."""
    me = _citizen(actor, tenant)
    if me is None:
        return _to_sign_in(tenant)
    return await _correct_page(
        request, ctx, tenant=tenant, actor=me, beneficiary_id=beneficiary_id, form={}
    )


@router.post(FAMILY + "/{beneficiary_id}/correct", dependencies=[WRITE])
async def correct_submit(
    tenant: PathTenant, beneficiary_id: uuid.UUID, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """File the request; staff of the person's area decide."""
    form = await person_form.read(request, CORRECTION_FIELDS)
    try:
        await service.request_correction(
            db=ctx.db,
            tenant=tenant,
            actor=actor,
            beneficiary_id=beneficiary_id,
            field=form["field"],
            value=form["value"],
            reason=form["reason"],
            id_type=form["id_type"] or None,
        )
    except Problem as exc:
        if exc.status >= 500 or exc.status == 404:
            raise
        errors = person_form.problems(request, tenant, exc)
        return await _correct_page(
            request,
            ctx,
            tenant=tenant,
            actor=actor,
            beneficiary_id=beneficiary_id,
            form=form,
            status=exc.status,
            errors=errors,
        )
    return _back(tenant, "requested")


@router.post(FAMILY + "/corrections/{correction_id}/withdraw", dependencies=[WRITE])
async def withdraw(
    tenant: PathTenant, correction_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> Response:
    """Take back a pending request."""
    await service.withdraw_correction(db=ctx.db, actor=actor, correction_id=correction_id)
    return _back(tenant, "withdrawn")


def _contact_page(
    request: Request,
    tenant: TenantInfo,
    member: MemberOut,
    form: dict[str, str],
    *,
    status: int = 200,
    errors: list[FormError] | None = None,
) -> Response:
    template = "citizen/family_code.html" if form.get("transaction_id") else CONTACT
    return page(
        request,
        tenant,
        template,
        status=status,
        errors=errors,
        nav_current="family",
        member=member,
        form=form,
    )


@router.api_route(FAMILY + "/{beneficiary_id}/contact", methods=GET, dependencies=[PAGE])
async def contact_form(
    tenant: PathTenant, beneficiary_id: uuid.UUID, ctx: Ctx, actor: OptionalActor, request: Request
) -> Response:
    """A new phone or e-mail for the person: first a code to the new destination."""
    me = _citizen(actor, tenant)
    if me is None:
        return _to_sign_in(tenant)
    member = await _member(ctx, tenant, me, beneficiary_id)
    return _contact_page(request, tenant, member, {})


@router.post(FAMILY + "/{beneficiary_id}/contact", dependencies=[WRITE])
async def contact_send_code(
    tenant: PathTenant, beneficiary_id: uuid.UUID, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """Send the code; the page asks for it."""
    form = await person_form.read(request, ("phone", "email"))
    member = await _member(ctx, tenant, actor, beneficiary_id)
    try:
        body = ContactCodeIn.model_validate({k: v for k, v in form.items() if v})
        sent = await service.request_contact_code(
            db=ctx.db,
            settings=ctx.settings,
            tenant=tenant,
            actor=actor,
            beneficiary_id=beneficiary_id,
            body=body,
            client_ip=client_ip(request),
        )
    except (Problem, ValidationError) as exc:
        status = exc.status if isinstance(exc, Problem) else 422
        if status >= 500 or status == 404:
            raise
        errors = person_form.problems(request, tenant, exc)
        return _contact_page(request, tenant, member, form, status=status, errors=errors)
    return _contact_page(request, tenant, member, {**form, "transaction_id": str(sent)})


# Checks the one-time code that reached the new contact: the login class.
@router.post(
    FAMILY + "/{beneficiary_id}/contact/confirm",
    dependencies=[requires("beneficiaries:write", rate="login")],
)
async def contact_confirm(
    tenant: PathTenant, beneficiary_id: uuid.UUID, ctx: Ctx, actor: CurrentActor, request: Request
) -> Response:
    """Change the phone or e-mail with the code that reached it."""
    form = await person_form.read(request, ("phone", "email", "transaction_id", "code"))
    try:
        changes: dict[str, Any] = {k: form[k] for k in ("phone", "email") if form[k]}
        changes["contact_code"] = {"transaction_id": form["transaction_id"], "code": form["code"]}
        await service.update_member(
            db=ctx.db,
            tenant=tenant,
            actor=actor,
            beneficiary_id=beneficiary_id,
            body=MemberUpdate.model_validate(changes),
            settings=ctx.settings,
        )
    except (Problem, ValidationError) as exc:
        status = exc.status if isinstance(exc, Problem) else 422
        if status >= 500 or status == 404:
            raise
        member = await _member(ctx, tenant, actor, beneficiary_id)
        errors = [
            dataclasses.replace(e, field="code") for e in person_form.problems(request, tenant, exc)
        ]
        return _contact_page(request, tenant, member, form, status=status, errors=errors)
    return _back(tenant, "saved")
