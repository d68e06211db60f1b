"""``vaxport trust fetch URL``: an issuer directory or JWKS, fetched by the operator.

Only on the operator's explicit command (the server never fetches trust on its own):
https only, no redirects, a timeout, and a byte cap on every answer. A directory
(``{"participating_issuers": [{"iss": ...}, ...]}``, the VCI directory format) is
followed to each issuer's ``{iss}/.well-known/jwks.json``; a JWKS URL ending in
``/.well-known/jwks.json`` is that issuer's keys.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from vaxport.certificates.trust.files import TrustFileError, check_issuer_url

MAX_BYTES = 2 * 1024 * 1024
TIMEOUT_SECONDS = 10.0
MAX_ISSUERS = 1000
JWKS_SUFFIX = "/.well-known/jwks.json"


async def _get_json(client: httpx.AsyncClient, url: str) -> Any:
    if not url.startswith("https://"):
        raise TrustFileError(f"{url}: only https URLs are fetched")
    async with client.stream("GET", url, headers={"Accept": "application/json"}) as answer:
        if answer.status_code != 200:
            raise TrustFileError(f"{url}: HTTP {answer.status_code}")
        body = b""
        async for chunk in answer.aiter_bytes():
            body += chunk
            if len(body) > MAX_BYTES:
                raise TrustFileError(f"{url}: larger than {MAX_BYTES} bytes")
    try:
        return json.loads(body)
    except ValueError:
        raise TrustFileError(f"{url}: not JSON") from None


async def fetch_issuers(
    url: str, *, transport: httpx.AsyncBaseTransport | None = None
) -> list[tuple[str, Any]]:
    """``(iss, jwks)`` of every issuer the URL names (a directory, or one JWKS)."""
    async with httpx.AsyncClient(
        timeout=TIMEOUT_SECONDS, follow_redirects=False, transport=transport
    ) as client:
        doc = await _get_json(client, url)
        if isinstance(doc, dict) and "keys" in doc:
            if not url.endswith(JWKS_SUFFIX):
                raise TrustFileError(f"a JWKS URL ends in {JWKS_SUFFIX} (its issuer is before it)")
            return [(check_issuer_url(url.removesuffix(JWKS_SUFFIX)), doc)]
        issuers = doc.get("participating_issuers") if isinstance(doc, dict) else None
        if not isinstance(issuers, list) or len(issuers) > MAX_ISSUERS:
            raise TrustFileError(f"{url}: neither a JWKS nor an issuer directory")
        out = []
        for entry in issuers:
            iss = entry.get("iss") if isinstance(entry, dict) else None
            if not isinstance(iss, str):
                continue
            out.append((check_issuer_url(iss), await _get_json(client, iss + JWKS_SUFFIX)))
        return out
