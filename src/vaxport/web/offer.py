"""What a tenant offers, as its pages say it: the features wired in this app that the
tenant's configuration allows.

A feature is listed when the page that serves it is a route of the running app (so
booking or certificates appear the day their pages are wired, never before) and the
tenant's configuration turns it on. The landing page and the tenant home read this list;
no page promises by hand-written text what the product cannot do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.applications import Starlette

from vaxport.core.http.dependencies import iter_routes
from vaxport.tenancy.service import TenantConfig


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "translate later"
    """Mark ``message`` for extraction; the page translates it when rendering."""
    return message


@dataclass(frozen=True, slots=True)
class Feature:
    """One thing a person can do: its page (``{tenant}`` filled in), its name and what
    it does (msgids, with ``%(family_size)s`` available), and when the tenant offers it."""

    key: str
    path: str
    title: str
    summary: str
    audience: str = "public"  # "public" or "staff": the home lists staff ones apart
    offered: Callable[[TenantConfig], bool] = lambda _config: True


FEATURES: tuple[Feature, ...] = (
    Feature(
        "sign-in",
        "/{tenant}/sign-in",
        N_("Sign in"),
        N_("Sign in with a code sent to your phone or e-mail, then register yourself."),
    ),
    Feature(
        "family",
        "/{tenant}/family",
        N_("Register your family"),
        N_("Add the people you look after: up to %(family_size)s people on one account."),
        offered=lambda config: config.family.max_beneficiaries_per_account > 1,
    ),
    Feature(
        "claim",
        "/{tenant}/claim",
        N_("Claim a record made at a centre"),
        N_("Registered at a centre without an account? Enter the code on your slip."),
    ),
    Feature(
        "find-centre",
        "/{tenant}/facilities",
        N_("Find a centre"),
        N_("Search vaccination centres by place, vaccine or what is near you."),
    ),
    Feature(
        "certificates",
        "/{tenant}/certificates",
        N_("Vaccination certificates"),
        N_("Show or download the certificates of your family, with QR codes checked abroad."),
        offered=lambda config: bool(config.certificates.formats),
    ),
    Feature(
        "verify",
        "/verify",
        N_("Check a certificate"),
        N_("Check any vaccination certificate's QR code: ours or another country's."),
    ),
    Feature(
        "staff-sign-in",
        "/{tenant}/staff/login",
        N_("Staff sign-in"),
        N_("For vaccinators, centre managers and administrators."),
        audience="staff",
    ),
)


def _page_paths(app: Starlette) -> frozenset[str]:
    """The paths of the app's GET routes (computed once per app)."""
    found: frozenset[str] | None = getattr(app.state, "page_paths", None)
    if found is None:
        found = frozenset(
            path
            for path, route, _deps in iter_routes(app.routes)
            if "GET" in (getattr(route, "methods", None) or ())
        )
        app.state.page_paths = found
    return found


@dataclass(frozen=True, slots=True)
class Offer:
    """A feature as one tenant's page links it."""

    key: str
    url: str
    title: str
    summary: str
    audience: str


def wired(app: Starlette, features: Iterable[Feature] = FEATURES) -> list[Feature]:
    """The features whose page this app serves (and whose work the installation does)."""
    paths = _page_paths(app)
    return [f for f in features if f.path in paths]


def offers(app: Starlette, code: str, config: TenantConfig) -> list[Offer]:
    """What tenant ``code`` offers: wired features its configuration turns on, in order."""
    return [
        Offer(f.key, f.path.replace("{tenant}", code), f.title, f.summary, f.audience)
        for f in wired(app)
        if f.offered(config)
    ]
