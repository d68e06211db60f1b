"""Who may change a dose record, and the problems a change meets before any check.

The vaccinator who recorded a dose corrects or voids it on their own within the
tenant's ``immunization.correction_window_minutes`` of recording (``doses:write``, the
dose's centre still in their reach); after it a supervisor over the dose's centre or
region does (``doses:correct``: facility managers, region and national admins), giving
a reason. Anyone else who reads the dose is refused (403) with a reason naming who can;
anyone who does not is told the dose does not exist (404).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from sqlalchemy import select

from vaxport.core.db import UnitOfWork
from vaxport.core.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor, Resource, can
from vaxport.immunization.models import Dose
from vaxport.tenancy.service import TenantInfo

__all__ = [
    "Authority",
    "authority",
    "closed",
    "locked_dose",
    "require_reason",
    "stale",
    "where",
    "window_minutes",
]

Authority = Literal["recorder", "supervisor"]
WRITE = "doses:write"
CORRECT = "doses:correct"
READ = "doses:read"
NO_DOSE = N_("dose not found")
# The configuration's default, for a tenant without an ``immunization`` section.
DEFAULT_WINDOW_MINUTES = 60
WHO_CAN = N_(
    "a facility manager or an administrator over the dose's centre can correct or void it, "
    "giving a reason"
)


def where(tenant_id: uuid.UUID, dose: Dose) -> Resource:
    """Where a dose sits for the policy: its centre and region."""
    return Resource(tenant_id, region_code=dose.region_code, facility_id=dose.facility_id)


def window_minutes(tenant: TenantInfo) -> int:
    """The tenant's correction window for the recorder, in minutes."""
    section = tenant.config.immunization
    return section.correction_window if section is not None else DEFAULT_WINDOW_MINUTES


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive UTC datetimes.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


async def locked_dose(
    uow: UnitOfWork, tenant_id: uuid.UUID, dose_id: uuid.UUID, actor: Actor
) -> Dose:
    """The tenant's dose, locked for the change (concurrent changes queue here); 404.

    A citizen is refused before the dose is looked for: a refusal after the lookup would
    tell them which dose ids exist (403 for one, 404 for none)."""
    if actor.kind != "staff":
        raise Forbidden(N_("dose records are corrected by staff: ask the centre that gave it"))
    dose = await uow.session.scalar(
        select(Dose).where(Dose.tenant_id == tenant_id, Dose.id == dose_id).with_for_update()
    )
    if dose is None:
        raise NotFound(NO_DOSE)
    return dose


def authority(actor: Actor, tenant: TenantInfo, dose: Dose, now: dt.datetime) -> Authority:
    """How ``actor`` may change ``dose`` (as its recorder in the window, or a supervisor);
    403 naming who can, or 404 for a dose out of their reach."""
    place = where(tenant.id, dose)
    minutes = window_minutes(tenant)
    recorder = dose.recorded_by == actor.account_id and can(actor, WRITE, place)
    if recorder and now <= _utc(dose.created_at) + dt.timedelta(minutes=minutes):
        return "recorder"
    if can(actor, CORRECT, place):
        return "supervisor"
    if recorder:
        problem = Forbidden(
            N_("the {minutes} minutes in which you may correct your own record have passed: "
               "a facility manager or an administrator over the dose's centre can correct "
               "or void it, giving a reason"),
            params={"minutes": minutes},
            errors=[field_error("version", WHO_CAN, code="correction-window-passed")],
        )  # fmt: skip
        problem.slug = "correction-window-passed"
        raise problem
    if can(actor, READ, place):
        problem = Forbidden(
            N_("only the vaccinator who recorded this dose (within {minutes} minutes) or a "
               "facility manager or an administrator over its centre can change it"),
            params={"minutes": minutes},
            errors=[field_error("version", WHO_CAN, code="not-the-recorder")],
        )  # fmt: skip
        problem.slug = "not-the-recorder"
        raise problem
    raise NotFound(NO_DOSE)


def require_reason(who: Authority, reason: str | None) -> None:
    """A supervisor's change says why (the recorder's own fix within the window may not)."""
    if who == "supervisor" and not reason:
        raise ValidationFailed(
            N_("the dose cannot be changed as asked"),
            errors=[
                field_error(
                    "reason",
                    N_("is required: say why the record is changed"),
                    code="reason-required",
                )
            ],
        )


def stale(dose: Dose, version: int) -> Conflict:
    """409 ``stale-version``: the dose changed since the caller read it."""
    return Conflict(
        N_("the dose record changed since version {version}; it is at {current}"),
        params={"version": version, "current": dose.version},
        errors=[
            field_error(
                "version",
                N_("is {current}, not {version}: read the dose again"),
                code="stale-version",
                current=dose.version,
                version=version,
            )
        ],
        current_version=dose.version,
    )


def closed(dose: Dose) -> Conflict:
    """409 ``dose-voided``: a voided record changes no more."""
    problem = Conflict(
        N_("this dose record is voided"),
        errors=[field_error("version", N_("the record is voided: nothing more changes it"),
                            code="dose-voided")],
    )  # fmt: skip
    problem.slug = "dose-voided"
    return problem
