"""Security headers on every response (pure ASGI: wraps ``send``, no extra task).

HTML gets a strict Content-Security-Policy with no inline script or style, so an
injection that slips past autoescaping still cannot run. Everything else (JSON,
problem+json, CSS, metrics) gets a policy that renders nothing and cannot be framed.
A response that sets its own policy keeps it (CSP or Permissions-Policy: the verify page
sends :data:`CAMERA_PERMISSIONS_POLICY`); a path may be given a CSP of its own by name
(none is today: the API docs page serves Swagger UI from our own origin under the page
policy).
HSTS (with ``VAXPORT_FORCE_HTTPS``) goes on HTTPS answers only, as RFC 6797 asks; the
scheme is the one the transport layer established (core/http/transport.py), so it is right
behind a TLS-terminating proxy too.

Answers of the API and FHIR (``/api/``, ``/fhir/``) carry people's data or secrets by
default: one that does not set its own ``Cache-Control`` gets ``no-store``, so no browser,
proxy or shared cache keeps it. A route whose answer is public sets its own (``public,
max-age=...``: the public directory, configuration, JWKS) and keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
# Data answers are never meant to be rendered as documents.
DATA_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Only features Chromium recognises: an unknown one ("bluetooth", "battery", "web-share"
# in Debian's Chromium 156) logs a console warning on every page and protects nothing.
PERMISSIONS_POLICY = (
    "geolocation=(self), camera=(), microphone=(), payment=(), usb=(), serial=(), hid=(), "
    "midi=(), magnetometer=(), gyroscope=(), accelerometer=(), display-capture=(), "
    "idle-detection=(), xr-spatial-tracking=(), browsing-topics=()"
)
# A page that scans QR codes with the camera (the public verify page) sets this one on its
# own answer; every other page keeps the camera off.
CAMERA_PERMISSIONS_POLICY = PERMISSIONS_POLICY.replace("camera=()", "camera=(self)")
HSTS = "max-age=63072000; includeSubDomains"
# Paths whose answers default to ``Cache-Control: no-store`` (see the module docstring).
PRIVATE_PREFIXES = ("/api/", "/fhir/")

_COMMON: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),  # for browsers that predate frame-ancestors
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


def baseline_headers(*, html: bool) -> list[tuple[str, str]]:
    """The headers this module adds, for responses built outside the middleware.

    Starlette renders unhandled-exception (500) responses outside every user middleware;
    the error page adds these itself so it is never served without its policy.
    """
    pairs = [(k.decode(), v.decode()) for k, v in _COMMON]
    pairs.append(("content-security-policy", PAGE_CSP if html else DATA_CSP))
    if html:
        pairs.append(("permissions-policy", PERMISSIONS_POLICY))
    return pairs


class SecurityHeaders:
    """What goes on every answer (CSP, nosniff, referrer, permissions, HSTS), for a layer
    that already wraps ``send``: the outermost one (``core.http.middleware.RequestMiddleware``)
    adds them with the request id, so the production stack pays one wrapper for both."""

    def __init__(self, *, hsts: bool = False, path_policies: Mapping[str, str] | None = None):
        self.hsts = hsts
        self.path_policies = dict(path_policies or {})

    def for_path(self, path: str) -> tuple[str | None, bool]:
        """``(policy override, private)`` of a request path, read before the app runs."""
        return self.path_policies.get(path), path.startswith(PRIVATE_PREFIXES)

    def add(
        self,
        headers: list[tuple[bytes, bytes]],
        override: str | None,
        *,
        scheme: str | None,
        private: bool = False,
    ) -> list[tuple[bytes, bytes]]:
        """``headers`` with the missing security headers appended.

        ``scheme`` is read when the answer starts: the transport layer, further in, may
        have set it from a trusted proxy's header.
        """
        hsts = self.hsts and scheme == "https"
        present = set()
        content_type = b""
        for k, v in headers:  # one pass: this runs on every answer
            name = k.lower()
            present.add(name)
            if name == b"content-type" and not content_type:
                content_type = v
        is_html = content_type.split(b";", 1)[0].strip().lower() == b"text/html"
        extra = [(k, v) for k, v in _COMMON if k not in present]
        if b"content-security-policy" not in present:
            policy = override or (PAGE_CSP if is_html else DATA_CSP)
            extra.append((b"content-security-policy", policy.encode()))
        if is_html and b"permissions-policy" not in present:
            extra.append((b"permissions-policy", PERMISSIONS_POLICY.encode()))
        if private and b"cache-control" not in present:
            extra.append((b"cache-control", b"no-store"))
        if hsts and b"strict-transport-security" not in present:
            extra.append((b"strict-transport-security", HSTS.encode()))
        return headers + extra
