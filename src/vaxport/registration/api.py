"""HTTP routes of the registration context: ``/api/v1/{tenant}/beneficiaries``.

Citizens manage the people of their own account; staff reach the people of their
jurisdiction (region subtree, facility, or the whole tenant). Out-of-scope people answer
404. A second registration of an ID document answers 409 ``already-registered`` with the
recovery path (claim with the slip's code, or support), whoever holds the document.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.idempotency import (
    answer_concerns,
    claim_of,
    claims_in_transaction,
    withhold_from_replay,
)
from vaxport.identity.service import CurrentActor, PathTenant, client_ip
from vaxport.registration import service
from vaxport.registration.schemas import (
    ClaimCodeIn,
    ClaimIn,
    ContactCodeIn,
    ContactCodeOut,
    CreatedMemberOut,
    ListQuery,
    MemberIn,
    MemberOut,
    MemberPage,
    MemberUpdate,
    SearchQuery,
    WalkInIn,
    WalkInOut,
)

router = APIRouter(tags=["beneficiaries"])

READ = requires("beneficiaries:read")
WRITE = requires("beneficiaries:write")
BASE = "/api/v1/{tenant}/beneficiaries"

_BY_ID = {"beneficiary_id": "$response.body#/id"}
_LINKS: dict[str, Any] = {
    "GetBeneficiary": {"operationId": "get_beneficiary", "parameters": _BY_ID},
    "UpdateBeneficiary": {"operationId": "update_beneficiary", "parameters": _BY_ID},
    "DeleteBeneficiary": {"operationId": "delete_beneficiary", "parameters": _BY_ID},
}
_CREATED: dict[int | str, dict[str, Any]] = {
    201: {"description": "Registered", "links": _LINKS},
    409: {"description": "The ID document is already registered, or the family is full"},
}


def _person_answer(request: Request, beneficiary_id: uuid.UUID) -> None:
    """A kept answer is sealed under the person's key; the slip's claim code is never kept
    (a retry gets the answer with ``claim_code: null``: reprint from the first answer)."""
    answer_concerns(request, beneficiary_id)
    withhold_from_replay(request, "claim_code")


def _location(response: Response, tenant: str, beneficiary_id: uuid.UUID) -> None:
    response.headers["Location"] = _where(tenant) + str(beneficiary_id)


def _where(tenant: str) -> str:
    """Where a person's record is, up to its id (the ``Location`` of a registration)."""
    return f"/api/v1/{tenant}/beneficiaries/"


@router.post(
    BASE,
    dependencies=[WRITE],
    status_code=201,
    responses=_CREATED,
    operation_id="create_beneficiary",
    summary="Register a person",
)
@claims_in_transaction
async def create_beneficiary(
    *,
    tenant: PathTenant,
    body: MemberIn,
    request: Request,
    response: Response,
    ctx: Ctx,
    actor: CurrentActor,
) -> CreatedMemberOut:
    """A citizen adds a family member; staff register a person in their jurisdiction."""
    keep = service.kept_answer(claim_of(request), _where(tenant.code), CreatedMemberOut)
    async with service.disclosure_budget(request.scope, actor):
        created = await service.register_member(
            db=ctx.db, tenant=tenant, actor=actor, body=body, keep=keep
        )
    _person_answer(request, created.id)
    _location(response, tenant.code, created.id)
    return created


@router.post(
    BASE + "/walk-ins",
    dependencies=[WRITE],
    status_code=201,
    responses=_CREATED,
    operation_id="create_walk_in",
    summary="Register a walk-in at a centre",
)
@claims_in_transaction
async def create_walk_in(
    *,
    tenant: PathTenant,
    body: WalkInIn,
    request: Request,
    response: Response,
    ctx: Ctx,
    actor: CurrentActor,
) -> WalkInOut:
    """Staff register a person without an account; print the claim code on their slip."""
    keep = service.kept_answer(claim_of(request), _where(tenant.code), WalkInOut)
    created = await service.register_walk_in(
        db=ctx.db, tenant=tenant, actor=actor, body=body, keep=keep
    )
    _person_answer(request, created.id)
    _location(response, tenant.code, created.id)
    return WalkInOut.model_validate(created.model_dump())


@router.post(
    BASE + "/claims/codes",
    dependencies=[requires("beneficiaries:write", rate="code_request")],
    status_code=202,
    operation_id="request_beneficiary_claim_code",
    summary="Send a claim code to the phone of an unclaimed record with this ID document",
)
async def request_claim_code(
    tenant: PathTenant, body: ClaimCodeIn, request: Request, ctx: Ctx, actor: CurrentActor
) -> ContactCodeOut:
    """Always 202 with a transaction id (nothing says whether a code was sent)."""
    transaction_id = await service.request_claim_code(
        db=ctx.db,
        settings=ctx.settings,
        tenant=tenant,
        actor=actor,
        body=body,
        client_ip=client_ip(request),
    )
    return ContactCodeOut(transaction_id=transaction_id)


@router.post(
    BASE + "/claims",
    dependencies=[requires("beneficiaries:write", rate="login")],
    operation_id="claim_beneficiary",
    summary="Claim a record with its slip's claim code or a code sent to its phone",
    responses={
        404: {"description": "No unclaimed record matches (same answer for any cause)"},
        422: {"description": "Neither shape given, or the phone code is wrong or used up"},
    },
)
async def claim_beneficiary(
    tenant: PathTenant, body: ClaimIn, request: Request, ctx: Ctx, actor: CurrentActor
) -> MemberOut:
    """Attach a walk-in or imported record to the citizen's account."""
    claimed = await service.claim_member(
        db=ctx.db, settings=ctx.settings, tenant=tenant, actor=actor, body=body
    )
    answer_concerns(request, claimed.id)
    return claimed


@router.get(BASE, dependencies=[READ], operation_id="list_beneficiaries", summary="List people")
async def list_beneficiaries(
    tenant: PathTenant, ctx: Ctx, actor: CurrentActor, query: Annotated[ListQuery, Query()]
) -> MemberPage:
    """A citizen's family; for staff, the people of their jurisdiction."""
    return await service.list_members(
        db=ctx.db, tenant=tenant, actor=actor, cursor=query.cursor, limit=query.limit
    )


@router.get(
    BASE + "/search",
    dependencies=[READ],
    operation_id="search_beneficiaries",
    summary="Find people by ID document, phone or slip reference",
)
async def search_beneficiaries(
    tenant: PathTenant, ctx: Ctx, actor: CurrentActor, query: Annotated[SearchQuery, Query()]
) -> list[MemberOut]:
    """Exact match only, within the actor's scope; every hit is audited for staff."""
    return await service.search_members(
        db=ctx.db,
        tenant=tenant,
        actor=actor,
        id_type=query.id_type,
        number=query.number,
        phone=query.phone,
        reference=query.reference,
    )


@router.get(
    BASE + "/{beneficiary_id}",
    dependencies=[READ],
    operation_id="get_beneficiary",
    summary="One person",
)
async def get_beneficiary(
    tenant: PathTenant, beneficiary_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> MemberOut:
    """404 when the person is not in the actor's scope."""
    return await service.get_member(
        db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=beneficiary_id
    )


@router.patch(
    BASE + "/{beneficiary_id}",
    dependencies=[WRITE],
    operation_id="update_beneficiary",
    summary="Change sex, region, language, guardian relation, contact details or the "
    "declared risk groups and occupations",
)
async def update_beneficiary(
    *,
    tenant: PathTenant,
    beneficiary_id: uuid.UUID,
    body: MemberUpdate,
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
) -> MemberOut:
    """Names, birth date and ID numbers change through a correction request instead."""
    answer_concerns(request, beneficiary_id)
    return await service.update_member(
        db=ctx.db,
        tenant=tenant,
        actor=actor,
        beneficiary_id=beneficiary_id,
        body=body,
        settings=ctx.settings,
    )


@router.post(
    BASE + "/{beneficiary_id}/contact-codes",
    dependencies=[requires("beneficiaries:write", rate="code_request")],
    status_code=202,
    operation_id="request_beneficiary_contact_code",
    summary="Send a code to a new phone or e-mail before changing it",
)
async def request_contact_code(
    *,
    tenant: PathTenant,
    beneficiary_id: uuid.UUID,
    body: ContactCodeIn,
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
) -> ContactCodeOut:
    """Then PATCH the person with the new value and ``contact_code``."""
    transaction_id = await service.request_contact_code(
        db=ctx.db,
        settings=ctx.settings,
        tenant=tenant,
        actor=actor,
        beneficiary_id=beneficiary_id,
        body=body,
        client_ip=client_ip(request),
    )
    return ContactCodeOut(transaction_id=transaction_id)


@router.delete(
    BASE + "/{beneficiary_id}",
    dependencies=[WRITE],
    status_code=204,
    operation_id="delete_beneficiary",
    summary="Erase a person never vaccinated",
    responses={409: {"description": "Vaccinated: kept per the retention rule"}},
)
async def delete_beneficiary(
    tenant: PathTenant, beneficiary_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> Response:
    """Deletes the record and destroys the person's key (crypto-shredding)."""
    await service.delete_member(
        db=ctx.db, tenant=tenant, actor=actor, beneficiary_id=beneficiary_id
    )
    return Response(status_code=204)
