"""The public verify page (``/verify``): paste a certificate's text, upload (or take) a
photo of its QR code, or scan it with the camera where the browser can.

A plain form first (works without script; ``capture`` opens the phone camera for the
photo); ``js/verify-scan.js`` adds live scanning with the browser's own
``BarcodeDetector`` when it exists (no third-party code). The page alone may use the
camera (its own Permissions-Policy). The result shows valid or not, the failed check,
and the holder's name, birth date and vaccination status: nothing else.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from vaxport.certificates import service as certificates
from vaxport.core.errors import PayloadTooLarge
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.core.http.security_headers import CAMERA_PERMISSIONS_POLICY
from vaxport.core.i18n import N_, SOURCE_LOCALE, installation_languages
from vaxport.web.rendering import choose_locale, render

router = APIRouter(include_in_schema=False)

PAGE = requires("pages:read", public=True)
SUBMIT = requires("certificates:verify", public=True, rate="verification", upload=True)
MAX_TEXT = 64 * 1024
# Each check's name on the page, in the order the verifier runs them.
CHECK_NAMES = {
    "decode": N_("Readable certificate"),
    "signature": N_("Signature of a trusted issuer"),
    "expiry": N_("Within its validity period"),
    "schema": N_("Well-formed content"),
    "key_usage": N_("Issuer allowed to sign it"),
    "revocation": N_("Not revoked"),
}


def _page(
    request: Request,
    ctx: Ctx,
    *,
    status: int = 200,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    pasted: str = "",
) -> Response:
    page = choose_locale(request, available=installation_languages(), default=SOURCE_LOCALE)
    response = render(
        request,
        "verify/page.html",
        page,
        status=status,
        checks=CHECK_NAMES,
        max_bytes=ctx.settings.verify_image_max_bytes,
        result=result,
        error=error,
        pasted=pasted,
    )
    response.headers["permissions-policy"] = CAMERA_PERMISSIONS_POLICY
    response.headers["cache-control"] = "no-store"  # a result names a person
    return response


@router.api_route("/verify", methods=["GET", "HEAD"], dependencies=[PAGE])
async def verify_page(request: Request, ctx: Ctx) -> Response:
    """The empty form."""
    return _page(request, ctx)


async def _capped_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body exceeds {limit} bytes", limit_bytes=limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes", limit_bytes=limit)
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/verify", dependencies=[SUBMIT])
async def verify_submit(request: Request, ctx: Ctx) -> Response:
    """Verify what the form sent (a photo wins over text) and show the result."""
    limit = ctx.settings.verify_image_max_bytes
    try:
        raw = await _capped_body(request, limit)
    except PayloadTooLarge:
        return _page(request, ctx, status=413, error=N_("The photo is too large."))

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(
            max_files=1, max_fields=4, max_part_size=limit
        )
    except Exception:  # noqa: BLE001 - the form parser raises several kinds on junk
        return _page(request, ctx, status=400, error=N_("The form could not be read."))
    try:
        image, text = form.get("image"), form.get("payload")
        photo = await image.read() if isinstance(image, UploadFile) else b""
    finally:
        await form.close()
    pasted = text.strip() if isinstance(text, str) else ""
    if not photo and not pasted:
        return _page(
            request,
            ctx,
            status=422,
            error=N_("Paste the certificate's text or add a photo of its QR code."),
        )
    if not photo and len(pasted) > MAX_TEXT:
        return _page(
            request, ctx, status=422, error=N_("The text is too long to be a certificate.")
        )
    result = await certificates.verify_certificate(
        db=ctx.db, payload=photo or pasted, image=bool(photo)
    )
    return _page(request, ctx, result=result.to_json(), pasted=pasted if not photo else "")
