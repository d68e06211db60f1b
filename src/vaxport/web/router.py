"""All page routes, assembled; include it after every other router (``/{tenant}/``)."""

from __future__ import annotations

from fastapi import APIRouter

from vaxport.core.i18n import catalogs
from vaxport.web import (
    api_docs,
    assets,
    certificates,
    citizen_appointments,
    citizen_auth,
    citizen_booking,
    citizen_claim,
    citizen_family,
    citizen_record,
    citizen_recovery,
    facilities,
    public,
    slots,
    staff_auth,
    staff_doses,
    staff_lots,
    staff_people,
    staff_person,
    staff_review,
    staff_sessions,
    staff_team,
    staff_today,
    staff_walkin,
    verify,
)
from vaxport.web.rendering import environment


def build_router() -> APIRouter:
    """The pages and static files; compiles catalogs now so a broken one fails start-up."""
    catalogs()
    assets.manifest()
    environment()
    router = APIRouter(include_in_schema=False)
    router.include_router(assets.router)
    router.include_router(verify.router)
    router.include_router(api_docs.router)
    router.include_router(staff_auth.router)
    router.include_router(staff_team.router)
    router.include_router(staff_review.router)
    router.include_router(staff_walkin.router)
    router.include_router(staff_people.router)
    router.include_router(staff_person.router)
    router.include_router(staff_doses.router)
    router.include_router(staff_today.router)
    router.include_router(staff_sessions.router)
    router.include_router(staff_lots.router)
    router.include_router(citizen_auth.router)
    router.include_router(citizen_claim.router)
    router.include_router(citizen_family.router)
    router.include_router(citizen_record.router)
    router.include_router(citizen_recovery.router)
    router.include_router(citizen_booking.router)
    router.include_router(citizen_appointments.router)
    router.include_router(certificates.router)
    router.include_router(public.router)
    router.include_router(facilities.router)
    router.include_router(slots.router)
    return router
