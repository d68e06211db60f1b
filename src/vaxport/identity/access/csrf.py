"""CSRF protection for cookie-authenticated requests: the double-submit token.

Every page with a form sets (once) a random token in a cookie the browser sends back,
and puts the same token in a hidden ``csrf_token`` field. An unsafe request carrying
the session cookie must carry the same token in that field (or ``X-CSRF-Token``): a
cross-site page can make the browser send the cookie, but it can neither read it nor
set one for us (``__Host-`` prefix outside development). SameSite=Lax on the session
cookie is the second wall.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

from vaxport.core.errors import Forbidden
from vaxport.core.i18n import N_
from vaxport.settings import Settings

FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_MAX = 128


def secure_cookies(settings: Settings) -> bool:
    """Cookies are ``Secure`` (and ``__Host-`` prefixed) outside development."""
    return settings.env == "production" or settings.force_https


def cookie_name(settings: Settings, base: str) -> str:
    """``__Host-<base>`` when cookies are Secure (the prefix requires it), else ``<base>``."""
    return f"__Host-{base}" if secure_cookies(settings) else base


def csrf_cookie(settings: Settings) -> str:
    """The name of the CSRF cookie."""
    return cookie_name(settings, "vaxport_csrf")


def token_for(request: Request, settings: Settings) -> str:
    """The page's CSRF token: the browser's existing one, or a new one to set."""
    existing = request.cookies.get(csrf_cookie(settings), "")
    if 20 <= len(existing) <= _MAX:
        return existing
    made: str | None = request.scope.setdefault("state", {}).get("csrf_new")
    if made is None:
        made = secrets.token_urlsafe(32)
        request.scope["state"]["csrf_new"] = made
    return made


def set_cookie_if_new(request: Request, response: Response, settings: Settings) -> None:
    """Send the CSRF cookie if this request made a new token."""
    made = request.scope.get("state", {}).get("csrf_new")
    if made:
        response.set_cookie(
            csrf_cookie(settings),
            made,
            path="/",
            httponly=True,
            secure=secure_cookies(settings),
            samesite="strict",
        )


async def submitted_token(request: Request) -> str:
    """The token sent with an unsafe request (header, or the form field)."""
    header = request.headers.get(HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def verify(request: Request, settings: Settings) -> None:
    """Refuse (403) an unsafe request whose token does not match the cookie's."""
    if request.method in SAFE_METHODS:
        return
    expected = request.cookies.get(csrf_cookie(settings), "")
    given = await submitted_token(request)
    if (
        not expected
        or len(expected) > _MAX
        or not hmac.compare_digest(expected.encode(), given.encode())
    ):
        raise Forbidden(N_("the form has expired or did not come from this site; reload the page"))
