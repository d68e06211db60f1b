"""HTTP routes of the FHIR R4 API: ``/fhir/{tenant}/...`` (docs/fhir.md).

``metadata`` is public; the rest needs a bearer token with ``doses:read`` (staff) or a
citizen's, and answers only for people in the caller's reach (404 otherwise). Answers
and errors are ``application/fhir+json``: errors, ours and the framework's, leave as an
OperationOutcome (:func:`outcome_response`, installed for ``/fhir/`` by the wiring).
Parameters are strict: one we do not support is a 400, never silently ignored.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response

from vaxport.core.errors import BadRequest, NotFound, Problem, field_error
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.i18n import N_
from vaxport.identity.service import CurrentActor, PathTenant
from vaxport.immunization.fhir import reads, shapes
from vaxport.immunization.fhir.codes import Systems
from vaxport.tenancy.service import TenantInfo

router = APIRouter(tags=["fhir"])

BASE = "/fhir/{tenant}"
PREFIX = "/fhir/"
READ = requires(reads.READ)
PUBLIC = requires("fhir:metadata", public=True)
FORMATS = frozenset({"json", "application/json", "application/fhir+json"})
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_:.-]{0,40}$")

_OUTCOME = {"content": {shapes.FHIR_JSON: {"schema": {"type": "object"}}}}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The resource", **_OUTCOME},
    400: {"description": "OperationOutcome: a parameter is unsupported or malformed", **_OUTCOME},
    401: {"description": "OperationOutcome: authentication is required", **_OUTCOME},
    403: {"description": "OperationOutcome: the role does not read doses", **_OUTCOME},
    404: {"description": "OperationOutcome: unknown, or not in the caller's reach", **_OUTCOME},
}

FormatParam = Annotated[str | None, Query(alias="_format", description="json only")]


class UnsupportedParameter(BadRequest):
    slug = "unsupported-parameter"


class NotAcceptable(Problem):
    status, slug, title = 406, "not-acceptable", N_("Not acceptable")


# OperationOutcome issue types (http://hl7.org/fhir/issue-type) by our problem's status.
_ISSUE_TYPES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "invalid",
    429: "throttled",
    503: "transient",
}


def outcome_response(problem: Problem, request: Request) -> Response:
    """Any problem under ``/fhir/`` as an OperationOutcome (its status and headers kept)."""
    code = "not-supported" if isinstance(problem, UnsupportedParameter) else None
    code = code or _ISSUE_TYPES.get(problem.status, "exception")
    if problem.errors:
        said = "; ".join(f"{e['field']}: {e['reason']}" for e in problem.errors)
        outcome = shapes.operation_outcome(code, said, [e["field"] for e in problem.errors])
    else:
        outcome = shapes.operation_outcome(code, problem.detail)
    return Response(
        orjson.dumps(outcome),
        status_code=problem.status,
        media_type=shapes.FHIR_JSON,
        headers=problem.headers,
    )


def _answer(resource: dict[str, Any]) -> Response:
    return Response(orjson.dumps(resource), media_type=shapes.FHIR_JSON)


def _systems(ctx: Ctx, tenant: TenantInfo) -> Systems:
    return Systems(f"{ctx.settings.public_url.rstrip('/')}{PREFIX}{tenant.code}")


def _only(request: Request, *allowed: str) -> None:
    """400 for a parameter we do not support or one given twice; 406 for a non-JSON format."""
    params = request.query_params
    for name in params:
        shown = name if _NAME.match(name) else "query"
        if name not in allowed and name != "_format":
            raise UnsupportedParameter(
                N_("this server does not support this parameter"),
                errors=[field_error(shown, N_("is not supported here"), code="not-supported")],
            )
        if len(params.getlist(name)) > 1:
            raise BadRequest(
                N_("a parameter is repeated"),
                errors=[field_error(shown, N_("give it once"), code="repeated")],
            )
    if params.get("_format", "json") not in FORMATS:
        raise NotAcceptable(N_("this server answers in application/fhir+json only"))


def _id(value: str, what: str) -> uuid.UUID:
    """A resource id of ours (a UUID); anything else names nothing: 404."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(N_("{what} not found"), params={"what": what}) from None


@router.get(
    BASE + "/metadata",
    dependencies=[PUBLIC],
    operation_id="fhir_capabilities",
    summary="FHIR CapabilityStatement: what this server supports",
    response_class=Response,
    responses=_RESPONSES,
)
async def capabilities(
    tenant: PathTenant, request: Request, ctx: Ctx, _format: FormatParam = None
) -> Response:
    """Public: the reads and the one search this server answers, and how to authenticate."""
    _only(request)
    return _answer(reads.capability(tenant=tenant, systems=_systems(ctx, tenant)))


@router.get(
    BASE + "/Patient/{patient_id}",
    dependencies=[READ],
    operation_id="fhir_read_patient",
    summary="FHIR Patient: a registered person",
    response_class=Response,
    responses=_RESPONSES,
)
async def read_patient(
    tenant: PathTenant,
    patient_id: str,
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
    _format: FormatParam = None,
) -> Response:
    """Name, sex, birth, the slip's reference; phone and e-mail as registration shows them."""
    _only(request)
    resource = await reads.read_patient(
        db=ctx.db,
        tenant=tenant,
        actor=actor,
        patient_id=_id(patient_id, "patient"),
        systems=_systems(ctx, tenant),
    )
    return _answer(resource)


@router.get(
    BASE + "/Patient/{patient_id}/$everything",
    dependencies=[READ],
    operation_id="fhir_patient_everything",
    summary="FHIR Patient $everything: the Patient and their Immunizations",
    response_class=Response,
    responses=_RESPONSES,
)
async def patient_everything(
    tenant: PathTenant,
    patient_id: str,
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
    _format: FormatParam = None,
) -> Response:
    """A searchset Bundle: the Patient (match), then each Immunization (include)."""
    _only(request)
    systems = _systems(ctx, tenant)
    pid = _id(patient_id, "patient")
    resource = await reads.everything(
        db=ctx.db,
        tenant=tenant,
        actor=actor,
        patient_id=pid,
        systems=systems,
        self_url=f"{systems.base}/Patient/{pid}/$everything",
    )
    return _answer(resource)


def _patient_reference(value: str | None, base: str) -> uuid.UUID:
    """``patient`` as an id, ``Patient/{id}`` or ``{base}/Patient/{id}``; 400 otherwise."""
    text = (value or "").strip()
    for prefix in (f"{base}/Patient/", "Patient/"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    try:
        return uuid.UUID(text)
    except ValueError:
        reason = N_("is required: the id of a Patient") if not value else N_("is not a Patient id")
        raise BadRequest(
            N_("search Immunizations by patient"), errors=[field_error("patient", reason)]
        ) from None


@router.get(
    BASE + "/Immunization",
    dependencies=[READ],
    operation_id="fhir_search_immunizations",
    summary="FHIR Immunization search by patient: a searchset Bundle",
    response_class=Response,
    responses=_RESPONSES,
)
async def search_immunizations(
    tenant: PathTenant,
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
    patient: Annotated[str | None, Query(description="the Patient's id (required)")] = None,
    _format: FormatParam = None,
) -> Response:
    """Every dose record of the patient, recorded and voided (``entered-in-error``)."""
    _only(request, "patient")
    systems = _systems(ctx, tenant)
    pid = _patient_reference(patient, systems.base)
    resource = await reads.search_immunizations(
        db=ctx.db,
        tenant=tenant,
        actor=actor,
        patient_id=pid,
        systems=systems,
        self_url=f"{systems.base}/Immunization?patient={pid}",
    )
    return _answer(resource)


@router.get(
    BASE + "/Immunization/{immunization_id}",
    dependencies=[READ],
    operation_id="fhir_read_immunization",
    summary="FHIR Immunization: one dose record",
    response_class=Response,
    responses=_RESPONSES,
)
async def read_immunization(
    tenant: PathTenant,
    immunization_id: str,
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
    _format: FormatParam = None,
) -> Response:
    """One dose record of a person in the caller's reach."""
    _only(request)
    resource = await reads.read_immunization(
        db=ctx.db,
        tenant=tenant,
        actor=actor,
        dose_id=_id(immunization_id, "immunization"),
        systems=_systems(ctx, tenant),
    )
    return _answer(resource)
