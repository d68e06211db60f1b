"""Error pages for browsers; API clients keep getting problem+json.

A request gets HTML only when it is not for a machine path and its ``Accept`` header
names ``text/html`` above any JSON type; ``*/*`` (curl, httpx, most SDKs) means JSON.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from vaxport.core.errors import Problem
from vaxport.core.http.security_headers import baseline_headers
from vaxport.core.i18n import SOURCE_LOCALE, installation_languages
from vaxport.core.logging import get_logger
from vaxport.web.rendering import choose_locale, render

log = get_logger(__name__)

_MACHINE_PREFIXES = ("/api/", "/fhir/", "/.well-known/", "/static/")
_MACHINE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_JSON_TYPES = frozenset({"application/json", "application/problem+json"})


def _accept_weights(header: str) -> tuple[float, float]:
    html = json = 0.0
    for item in header[:1024].split(",")[:32]:
        media, *params = (p.strip() for p in item.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.lower()
        if media in _HTML_TYPES:
            html = max(html, q)
        elif media in _JSON_TYPES:
            json = max(json, q)
    return html, json


def wants_html(request: Request) -> bool:
    """True for a browser navigating to a page; false for API, FHIR, ops and assets."""
    path = request.url.path
    if path in _MACHINE_PATHS or path.startswith(_MACHINE_PREFIXES):
        return False
    html, json = _accept_weights(request.headers.get("accept", ""))
    return html > 0 and html > json


def html_error_page(problem: Problem, request: Request) -> Response | None:
    """The problem as an HTML page when a browser asked, else ``None`` (use problem+json)."""
    if not wants_html(request):
        return None
    try:
        page = choose_locale(
            request, available=installation_languages(), default=SOURCE_LOCALE, remember=False
        )
        response = render(
            request,
            "error.html",
            page,
            status=problem.status,
            headers=dict(problem.headers),
            status_code=problem.status,
        )
    except Exception as exc:  # noqa: BLE001 - an error page must never become a second error
        log.error("web.error_page_failed", status=problem.status, error=type(exc).__name__)
        return None
    response.headers["vary"] = "Accept, Accept-Language, Cookie"
    for name, value in baseline_headers(html=True):
        response.headers.setdefault(name, value)
    return response
