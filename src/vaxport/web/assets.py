"""Static files: our own CSS and images, served from memory under a content hash.

URLs carry each file's content digest (``/static/<digest>/css/site.css``), so a browser
may keep a file for a year and a release still takes effect at once. A request for an
old digest gets the current file with ``no-cache``, never a year-long stale copy.
Files are read once at start-up and looked up by exact name, so no request can reach
anything outside ``web/static``. Third-party front-end code comes from installed packages,
never committed: Swagger UI (for ``/api/docs``) is read from ``fastapi-offline``'s wheel
and served as ``vendor/swagger-ui/...`` (see :data:`VENDORED`).
"""

from __future__ import annotations

import functools
import hashlib
import mimetypes
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import Response

from vaxport.core.errors import NotFound
from vaxport.core.http.dependencies import requires
from vaxport.core.i18n import N_

STATIC_DIR = Path(__file__).resolve().parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
# Files of installed packages served as our own: (package, directory, file) -> our name.
VENDORED: tuple[tuple[str, str, str, str], ...] = (
    ("fastapi_offline", "static", "swagger-ui-bundle.js", "vendor/swagger-ui/swagger-ui-bundle.js"),
    ("fastapi_offline", "static", "swagger-ui.css", "vendor/swagger-ui/swagger-ui.css"),
)
_TEXT_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True, slots=True)
class Asset:
    """One static file: its bytes, content digest and media type."""

    body: bytes
    digest: str
    media_type: str

    @property
    def etag(self) -> str:
        return f'"{self.digest}"'


def _media_type(path: Path) -> str:
    if path.suffix in _TEXT_TYPES:
        return f"{_TEXT_TYPES[path.suffix]}; charset=utf-8"
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def _asset(body: bytes, name: str) -> Asset:
    return Asset(
        body=body,
        digest=hashlib.sha256(body).hexdigest()[:16],
        media_type=_media_type(Path(name)),
    )


@functools.cache
def manifest() -> dict[str, Asset]:
    """Every static file by its path under ``web/static``, and the vendored ones (read once)."""
    assets: dict[str, Asset] = {}
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            name = path.relative_to(STATIC_DIR).as_posix()
            assets[name] = _asset(path.read_bytes(), name)
    for package, directory, filename, name in VENDORED:
        body = resources.files(package).joinpath(directory, filename).read_bytes()
        assets[name] = _asset(body, name)
    return assets


def static_url(path: str) -> str:
    """The cache-busting URL of a static file; a typo fails the render, not the browser."""
    asset = manifest().get(path)
    if asset is None:
        raise LookupError(f"no static file {path!r}")
    return f"/static/{asset.digest}/{path}"


@router.api_route(
    "/static/{digest}/{path:path}",
    methods=["GET", "HEAD"],
    dependencies=[requires("static:read", public=True)],
)
async def static_file(digest: str, path: str, request: Request) -> Response:
    """A static file; immutable for a year when the digest in the URL is its own."""
    asset = manifest().get(path)
    if asset is None:
        raise NotFound(N_("no such static file"))
    headers = {
        "cache-control": IMMUTABLE if digest == asset.digest else "no-cache",
        "etag": asset.etag,
    }
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)
