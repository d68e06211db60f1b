"""The composition root: the one place that knows every context and puts them together.

:func:`build` lists the application's parts explicitly: ORM model modules (and so the
metadata), HTTP routers, OpenAPI links, CLI sub-commands, demo steps, and the values each
context needs from the ones above it (ports, resolvers, configuration checks). The app
(``app.create_app``), the CLI (``cli.py``), the worker and ``vaxport demo`` take them from
here; nothing registers itself by being imported and nothing is found by scanning
packages. A test builds a smaller or different set with :func:`dataclasses.replace`.
The HTTP parts are imported inside :func:`_with_http`, still here, so that a command
(``build(http=False)``) does not load the HTTP APIs and pages it never serves.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType, ModuleType

import typer
from fastapi import APIRouter, Request, Response
from sqlalchemy import MetaData

import vaxport.certificates.issuance.models
import vaxport.certificates.models
import vaxport.certificates.trust.models
import vaxport.core.audit.models
import vaxport.core.crypto.models
import vaxport.core.idempotency
import vaxport.core.outbox.models
import vaxport.facilities.models
import vaxport.identity.models
import vaxport.immunization.aefi.models
import vaxport.immunization.corrections.models
import vaxport.immunization.models
import vaxport.immunization.sync.models
import vaxport.notifications.models
import vaxport.registration.models
import vaxport.scheduling.models
import vaxport.tenancy.models
from vaxport.audit.cli import app as audit_app
from vaxport.audit.runner import run_sealer
from vaxport.certificates import service as certificates_service
from vaxport.certificates import verify_cli as certificates_verify_cli
from vaxport.core.cache import Cache
from vaxport.core.crypto import set_phone_region_resolver
from vaxport.core.crypto.blind import RegionResolver
from vaxport.core.crypto.cli import app as keys_app
from vaxport.core.db import Base, Database, UnitOfWork
from vaxport.core.errors import Problem
from vaxport.core.http.openapi import Link
from vaxport.core.outbox import Subscriptions
from vaxport.core.outbox.cli import outbox_app
from vaxport.core.outbox.worker import Companion
from vaxport.facilities import events as facilities_events
from vaxport.facilities import service as facilities_service
from vaxport.facilities.cli import app as facility_app
from vaxport.facilities.demo import load_demo_facilities
from vaxport.identity import service as identity_service
from vaxport.identity.cli import app as user_app
from vaxport.identity.ports import IdentityPorts, install_ports
from vaxport.immunization import reminders as immunization_reminders
from vaxport.immunization import service as immunization_service
from vaxport.immunization.lots.demo import load_demo_lots
from vaxport.notifications import config_checks as notification_checks
from vaxport.notifications import events as notifications_events
from vaxport.notifications import service as notifications_service
from vaxport.notifications.cli import app as notify_app
from vaxport.notifications.events import RelevanceCheck, install_relevance_checks
from vaxport.notifications.recipients import Contact, ContactResolver, install_contact_resolvers
from vaxport.registration import lookup as registration_lookup
from vaxport.registration.cli import app as person_app
from vaxport.registration.events import beneficiary_contact
from vaxport.registration.imports import events as registration_import_events
from vaxport.registration.imports.cli import app as beneficiaries_app
from vaxport.registration.reach import BookedAt, install_booked_at
from vaxport.registration.service import SectionExporter, install_export_sections
from vaxport.scheduling import messages as scheduling_messages
from vaxport.scheduling import service as scheduling_service
from vaxport.scheduling.doses_port import DoseSource
from vaxport.scheduling.fairness import jobs as fairness_jobs
from vaxport.scheduling.sessions import events as scheduling_session_events
from vaxport.scheduling.sessions.demo import load_demo_sessions
from vaxport.settings import Settings
from vaxport.tenancy import service as tenancy_service
from vaxport.tenancy.cli import app as tenant_app
from vaxport.tenancy.validation import ConfigRules

# A context's demo data: (db, cache, settings, tenant code, base URL) -> lines for the
# banner ``vaxport demo`` prints.
DemoStep = Callable[[Database, Cache, Settings, str, str], Awaitable[list[str]]]
# How errors under a path prefix are answered when not as problem+json (FHIR's
# OperationOutcome under /fhir/): (problem, request) -> response.
ProblemFormat = Callable[[Problem, Request], Response]

# Every module defining tables: importing them is what puts the tables on Base.metadata.
MODELS: tuple[ModuleType, ...] = (
    vaxport.core.audit.models,
    vaxport.core.crypto.models,
    vaxport.core.idempotency,
    vaxport.core.outbox.models,
    vaxport.tenancy.models,
    vaxport.identity.models,
    vaxport.facilities.models,
    vaxport.notifications.models,
    vaxport.registration.models,
    vaxport.scheduling.models,
    vaxport.immunization.models,
    vaxport.certificates.models,
    vaxport.certificates.issuance.models,
    vaxport.certificates.trust.models,
    vaxport.immunization.aefi.models,
    vaxport.immunization.corrections.models,
    vaxport.immunization.sync.models,
)


async def _facility_region(
    db: Database, tenant_id: uuid.UUID, facility_id: uuid.UUID
) -> str | None:
    """Facilities' answer to identity: the region a facility lies in."""
    return await facilities_service.facility_region(
        db=db, tenant_id=tenant_id, facility_id=facility_id
    )


async def _staff_contact(
    uow: UnitOfWork, tenant_id: uuid.UUID, subject_id: uuid.UUID
) -> Contact | None:
    """Identity's answer to notifications: a staff account's e-mail and phone (admins are
    told of serious adverse events and flagged lots)."""
    found = await identity_service.staff_contact(uow, tenant_id=tenant_id, account_id=subject_id)
    return Contact(phone=found.phone, email=found.email) if found is not None else None


@dataclass(frozen=True, slots=True)
class Parts:
    """The application's parts; :func:`build` gives the full set."""

    models: tuple[ModuleType, ...]
    metadata: MetaData
    # Routers in inclusion order; the pages are built last (``"/{tenant}/"`` would
    # otherwise shadow another context's one-segment route).
    routers: tuple[APIRouter, ...]
    bench_routers: tuple[APIRouter, ...]
    dev_routers: tuple[APIRouter, ...]
    pages: Callable[[], APIRouter] | None
    links: tuple[Link, ...]
    cli_apps: tuple[tuple[str, typer.Typer], ...]
    # Top-level commands a context contributes (``vaxport verify``), by name.
    cli_commands: tuple[tuple[str, Callable[..., None]], ...]
    demo_steps: tuple[DemoStep, ...]
    config_rules: ConfigRules
    contact_resolvers: tuple[ContactResolver, ...]
    relevance_checks: Mapping[str, RelevanceCheck] = field(
        default_factory=lambda: MappingProxyType({})
    )
    phone_region: RegionResolver | None = None
    identity_ports: IdentityPorts | None = None
    # Registration's reach port: the people booked at a facility today (scheduling).
    booked_at: BookedAt | None = None
    # Error formats by path prefix (the rest of the app answers problem+json).
    problem_formats: tuple[tuple[str, ProblemFormat], ...] = ()
    # Scheduling's dose port: a person's recorded doses (immunization).
    dose_source: DoseSource | None = None
    # Sections other contexts add to registration's subject-access export, by key.
    export_sections: Mapping[str, SectionExporter] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # Immunization's certificate port: whether a dose has a certificate (certificates).
    certificate_exists: immunization_service.CertificateExists | None = None


def build(*, http: bool = True) -> Parts:
    """Every part of vaxport, as the processes run it.

    ``http=False`` leaves out the HTTP routes, pages, links and error formats (empty):
    the command line builds its parts so, as a command that serves no requests need not
    import the HTTP APIs and pages (most of a process's start-up). Whatever serves HTTP
    (``app.create_app``, ``vaxport serve``, ``vaxport demo``) builds every part.
    """
    parts = Parts(
        models=MODELS,
        metadata=Base.metadata,
        routers=(),
        bench_routers=(),
        dev_routers=(),
        pages=None,
        links=(),
        cli_apps=(
            ("audit", audit_app),
            ("outbox", outbox_app),
            ("tenant", tenant_app),
            ("keys", keys_app),
            ("facility", facility_app),
            ("user", user_app),
            ("notify", notify_app),
            ("person", person_app),
            ("beneficiaries", beneficiaries_app),
            ("trust", certificates_verify_cli.trust_app),
        ),
        cli_commands=(("verify", certificates_verify_cli.verify_command),),
        demo_steps=(
            load_demo_facilities,
            load_demo_sessions,
            load_demo_lots,
            certificates_service.init_demo_keys,
        ),
        config_rules=ConfigRules(
            checks=(
                notification_checks.check_notification_templates,
                certificates_service.check_dcc_codes,
            ),
            locators=MappingProxyType({"notifications": notification_checks.locate_problem}),
        ),
        contact_resolvers=(beneficiary_contact, _staff_contact),
        relevance_checks=MappingProxyType(
            {**scheduling_messages.RELEVANCE_CHECKS, **immunization_reminders.RELEVANCE_CHECKS}
        ),
        phone_region=tenancy_service.phone_region,
        identity_ports=IdentityPorts(
            send_code=notifications_service.send_login_code,
            member_lookup=registration_lookup.account_holds_member,
            facility_region=_facility_region,
            send_recovery_notice=notifications_service.send_recovery_notice,
            send_invitation=notifications_service.send_staff_invitation,
        ),
        booked_at=scheduling_service.booked_at,
        dose_source=immunization_service.recorded_doses,
        certificate_exists=certificates_service.dose_certified,
        export_sections=MappingProxyType(
            {
                "doses": immunization_service.export_section,
                "aefi_reports": immunization_service.export_aefi,
            }
        ),
    )
    return _with_http(parts) if http else parts


def _with_http(parts: Parts) -> Parts:
    """``parts`` with the HTTP routes, pages, links and error formats.

    Imported here rather than at the top so that only a process serving HTTP loads them.
    """
    from vaxport.audit.api import router as audit_router
    from vaxport.certificates.api import router as certificates_router
    from vaxport.certificates.issuance.api import router as issuance_router
    from vaxport.certificates.verify_api import router as verify_router
    from vaxport.core.http import bench_probe, ops
    from vaxport.facilities import links as facilities_links
    from vaxport.facilities.api import router as facilities_router
    from vaxport.identity.api import links as identity_links
    from vaxport.identity.api.citizen import router as citizen_router
    from vaxport.identity.api.recovery import router as recovery_router
    from vaxport.identity.api.staff import router as identity_router
    from vaxport.identity.bench import router as identity_bench_router
    from vaxport.immunization import api as immunization_api
    from vaxport.immunization.aefi.api import router as aefi_router
    from vaxport.immunization.corrections import api as corrections_api
    from vaxport.immunization.fhir import api as fhir_api
    from vaxport.immunization.lots.api import router as lots_router
    from vaxport.immunization.sync.api import router as sync_router
    from vaxport.notifications.api import dev_router as notifications_dev_router
    from vaxport.notifications.api import router as notifications_router
    from vaxport.registration.api import router as registration_router
    from vaxport.registration.imports.api import router as registration_import_router
    from vaxport.registration.review.api import router as registration_review_router
    from vaxport.scheduling import appointments_api as scheduling_appointments
    from vaxport.scheduling import search_api as scheduling_search_api
    from vaxport.scheduling.attendance import links as attendance_links
    from vaxport.scheduling.attendance.api import router as attendance_router
    from vaxport.scheduling.fairness import links as fairness_links
    from vaxport.scheduling.fairness.api import router as fairness_router
    from vaxport.scheduling.sessions import links as scheduling_session_links
    from vaxport.scheduling.sessions.api import router as scheduling_sessions_router
    from vaxport.tenancy.api import router as tenancy_router
    from vaxport.web.router import build_router as build_pages

    return replace(
        parts,
        routers=(
            ops.router,
            tenancy_router,
            audit_router,
            facilities_router,
            identity_router,
            citizen_router,
            recovery_router,
            notifications_router,
            registration_import_router,
            registration_router,
            registration_review_router,
            fairness_router,
            attendance_router,
            scheduling_sessions_router,
            scheduling_appointments.router,
            scheduling_search_api.router,
            immunization_api.router,
            corrections_api.router,
            fhir_api.router,
            certificates_router,
            issuance_router,
            verify_router,
            lots_router,
            aefi_router,
            sync_router,
        ),
        bench_routers=(ops.bench_router, bench_probe.router, identity_bench_router),
        dev_routers=(notifications_dev_router,),
        pages=build_pages,
        links=(
            *facilities_links.LINKS,
            *identity_links.LINKS,
            *attendance_links.LINKS,
            *fairness_links.LINKS,
            *scheduling_session_links.LINKS,
            *scheduling_appointments.LINKS,
            *scheduling_search_api.LINKS,
            *immunization_api.LINKS,
            *corrections_api.LINKS,
        ),
        problem_formats=((fhir_api.PREFIX, fhir_api.outcome_response),),
    )


def install(parts: Parts) -> None:
    """Hand the parts to the hooks of the contexts that need them, process-wide.

    Called when the app, the CLI (and so the worker) and the demo start, never on
    import. The hooks are process-wide because the outbox worker's handlers reach them
    outside any app; the last parts installed win.
    """
    set_phone_region_resolver(parts.phone_region)
    install_contact_resolvers(parts.contact_resolvers)
    install_relevance_checks(parts.relevance_checks)
    install_ports(parts.identity_ports)
    install_booked_at(parts.booked_at)
    scheduling_service.install_dose_source(parts.dose_source)
    install_export_sections(parts.export_sections)
    immunization_service.install_certificate_exists(parts.certificate_exists)


def event_subscriptions() -> Subscriptions:
    """Every context's outbox subscribers (a context with none is simply not listed)."""
    return Subscriptions(
        [
            *notifications_events.SUBSCRIBERS,
            *facilities_events.SUBSCRIBERS,
            *registration_import_events.SUBSCRIBERS,
            *fairness_jobs.SUBSCRIBERS,
            *scheduling_messages.SUBSCRIBERS,
            *scheduling_session_events.SUBSCRIBERS,
            *immunization_service.AEFI_SUBSCRIBERS,
            *immunization_reminders.SUBSCRIBERS,
            *certificates_service.SUBSCRIBERS,
        ]
    )


async def _seal_audit_chain(db: Database, stop: asyncio.Event) -> None:
    # Writers only append unsealed entries; every deployment runs workers, so they link
    # them into the chain.
    await run_sealer(db=db, stop=stop)


def worker_companions() -> tuple[Companion, ...]:
    """The periodic jobs every worker process runs beside its deliveries."""
    return (_seal_audit_chain, fairness_jobs.run_fairness_jobs)
