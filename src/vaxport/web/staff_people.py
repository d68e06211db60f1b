"""Staff page: find a person by ID document, phone or slip reference.

The same use case as ``GET /api/v1/{tenant}/beneficiaries/search`` with the same
permission: exact matches only, within the staff member's scope, every hit audited. One
"search by" choice and one box keep the form usable on a phone without script. Nobody
found leads on: a minimal match when the ID document belongs to someone registered
outside the staff member's area (``registration/elsewhere.py``), else registering the
person as a walk-in.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from vaxport.core.errors import Problem
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.identity.service import CurrentActor, PathTenant
from vaxport.registration import service
from vaxport.registration.service import MemberOut
from vaxport.web import person_form
from vaxport.web.staff_common import FormError, id_type_names, locale_of, page, region_labels

router = APIRouter(include_in_schema=False)
PEOPLE = "/{tenant}/staff/people"
BY_PHONE, BY_REFERENCE = "phone", "reference"


@router.api_route(PEOPLE, methods=["GET", "HEAD"], dependencies=[requires("beneficiaries:read")])
async def find_person(
    *,
    tenant: PathTenant,
    ctx: Ctx,
    actor: CurrentActor,
    request: Request,
    by: str = "",
    q: str = "",
) -> Response:
    """The search form and, once searched, the people found."""
    by, q = by[:32], q.strip()[:64]
    found: list[MemberOut] | None = None
    elsewhere: service.ElsewhereMatch | None = None
    errors: list[FormError] = []
    status = 200
    if q:
        criteria = (
            {"phone": q}
            if by == BY_PHONE
            else {"reference": q}
            if by == BY_REFERENCE
            else {
                "id_type": by,
                "number": q,
            }
        )
        try:
            found = await service.search_members(db=ctx.db, tenant=tenant, actor=actor, **criteria)
            if not found and "number" in criteria and actor.has("beneficiaries:write"):
                elsewhere = await service.match_elsewhere(
                    db=ctx.db, tenant=tenant, actor=actor, id_type=by, number=q
                )
        except (Problem, ValidationError) as exc:
            status = exc.status if isinstance(exc, Problem) else 422
            if status >= 500:
                raise
            errors = [
                FormError(e.message, "q", e.key, e.seconds, e.template, e.params, e.label)
                for e in person_form.problems(request, tenant, exc)
            ]
    locale = locale_of(request, tenant).locale
    return page(
        request,
        tenant,
        "staff/people.html",
        status=status,
        errors=errors,
        nav_current="people",
        by=by,
        q=q,
        found=found,
        elsewhere=elsewhere,
        kinds=id_type_names(tenant, locale),
        regions=region_labels(tenant, locale),
        can_register=actor.has("beneficiaries:write"),
        can_read_doses=actor.kind == "staff" and actor.has("doses:read"),
        can_record=actor.kind == "staff" and actor.has("doses:write"),
        can_read_certificates=actor.kind == "staff" and actor.has("certificates:read"),
    )
