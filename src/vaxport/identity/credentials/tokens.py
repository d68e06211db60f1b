"""Access tokens: short-lived ES256 JWTs (RFC 9068 ``at+jwt``), and opaque secrets.

Claims: ``iss`` (this installation's public URL), ``aud`` (its API), ``sub`` (account
id), ``tenant`` (code), ``tid`` (tenant id), ``kind`` (staff | citizen), ``roles``,
``scope`` (``national`` | ``region:<code>`` | ``facility:<id>`` | ``self``), ``jti``,
``ver`` (the account's token version), ``sid`` (the session), ``auth_time``, ``amr``,
``iat``, ``nbf``, ``exp``.

Verification accepts only ES256 with a key id we publish and the ``at+jwt`` type, so
``alg: none``, HMAC with the public key as secret, or another kind of JWT signed by us
are all refused before any claim is read. The claims are then checked strictly: a
token missing any of them, or with one of the wrong type, is invalid.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import secrets
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson
from joserfc import jwt
from joserfc.errors import JoseError

from vaxport.core import clock
from vaxport.core.db import Database
from vaxport.core.ids import uuid7
from vaxport.identity.access import policy
from vaxport.identity.credentials import signing
from vaxport.settings import Settings

TOKEN_TYPE = "at+jwt"  # noqa: S105 - the JWT "typ" of access tokens (RFC 9068)
LEEWAY_SECONDS = 30
MAX_TOKEN_BYTES = 4096


class InvalidToken(Exception):  # noqa: N818 - reads as what it is
    """The token cannot be used; ``reason`` is for logs and metrics, never for clients."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def issuer(settings: Settings) -> str:
    """The ``iss`` of our tokens."""
    return settings.public_url.rstrip("/")


def audience(settings: Settings) -> str:
    """The ``aud`` of our access tokens."""
    return issuer(settings) + "/api"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """A verified access token's claims."""

    account_id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_code: str
    kind: str
    roles: tuple[str, ...]
    scope: str
    jti: str
    token_version: int
    session_id: uuid.UUID
    auth_time: dt.datetime
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A signed access token and when it expires."""

    token: str
    jti: str
    expires_at: dt.datetime


async def issue_access_token(
    *,
    db: Database,
    settings: Settings,
    account_id: uuid.UUID,
    tenant_id: uuid.UUID,
    tenant_code: str,
    kind: str,
    role: str,
    scope: str,
    token_version: int,
    session_id: uuid.UUID,
    auth_time: dt.datetime,
    amr: list[str],
) -> IssuedToken:
    """Sign an access token valid for ``settings.access_token_seconds``."""
    kid, key = await signing.active_key(db)
    now = clock.utcnow()
    exp = now + dt.timedelta(seconds=settings.access_token_seconds)
    jti = str(uuid7())
    claims = {
        "iss": issuer(settings),
        "aud": audience(settings),
        "sub": str(account_id),
        "tenant": tenant_code,
        "tid": str(tenant_id),
        "kind": kind,
        "roles": [role],
        "scope": scope,
        "jti": jti,
        "ver": token_version,
        "sid": str(session_id),
        "auth_time": int(auth_time.timestamp()),
        "amr": amr,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int(exp.timestamp()),
    }
    header = {"alg": signing.ALG, "kid": kid, "typ": TOKEN_TYPE}
    token = jwt.encode(header, claims, key, algorithms=[signing.ALG])
    return IssuedToken(token=token, jti=jti, expires_at=exp)


def _header(token: str) -> dict[str, Any]:
    if len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
        raise InvalidToken("malformed")
    head = token.split(".", 1)[0]
    try:
        header = orjson.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise InvalidToken("malformed header") from exc
    if not isinstance(header, dict):
        raise InvalidToken("malformed header")
    return header


def _uuid(claims: dict[str, Any], name: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(claims[name]))
    except (KeyError, ValueError) as exc:
        raise InvalidToken(f"bad {name}") from exc


def _int(claims: dict[str, Any], name: str) -> int:
    value = claims.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidToken(f"bad {name}")
    return value


def _str(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value or len(value) > 200:
        raise InvalidToken(f"bad {name}")
    return value


_VERIFIED_MAX = 50_000
_verified: OrderedDict[bytes, tuple[str, AccessClaims]] = OrderedDict()
_verified_lock = threading.Lock()


def _remembered(digest: bytes) -> tuple[str, AccessClaims] | None:
    with _verified_lock:
        hit = _verified.get(digest)
        if hit is not None:
            _verified.move_to_end(digest)
        return hit


def _remember(digest: bytes, kid: str, claims: AccessClaims) -> None:
    with _verified_lock:
        _verified[digest] = (kid, claims)
        while len(_verified) > _VERIFIED_MAX:
            _verified.popitem(last=False)


async def verify_access_token(*, db: Database, settings: Settings, token: str) -> AccessClaims:
    """The claims of a valid access token; :class:`InvalidToken` otherwise.

    A client sends the same token on every request for its lifetime: once its signature
    and claims are verified, this process remembers the result for those exact bytes
    (bounded LRU) and re-checks only what can change, expiry and its key's acceptance.
    """
    digest = hashlib.sha256(
        f"{issuer(settings)}\x00{audience(settings)}\x00{token}".encode("utf-8", "surrogatepass")
    ).digest()
    hit = _remembered(digest)
    if hit is not None:
        kid, claims = hit
        now = clock.utcnow()
        if claims.expires_at.timestamp() + LEEWAY_SECONDS < now.timestamp():
            raise InvalidToken("ExpiredTokenError")
        if await signing.public_key(db, kid) is None:
            raise InvalidToken("unknown or retired key")
        return claims
    claims, kid = await _verify(db=db, settings=settings, token=token)
    _remember(digest, kid, claims)
    return claims


async def _verify(*, db: Database, settings: Settings, token: str) -> tuple[AccessClaims, str]:
    header = _header(token)
    if header.get("alg") != signing.ALG:
        raise InvalidToken("algorithm")
    if header.get("typ") != TOKEN_TYPE:
        raise InvalidToken("type")
    kid = header.get("kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= 64:
        raise InvalidToken("kid")
    key = await signing.public_key(db, kid)
    if key is None:
        raise InvalidToken("unknown or retired key")
    now = int(clock.utcnow().timestamp())
    try:
        decoded = jwt.decode(token, key, algorithms=[signing.ALG])
        registry = jwt.JWTClaimsRegistry(
            now=now,
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": issuer(settings)},
            aud={"essential": True, "value": audience(settings)},
            sub={"essential": True},
            jti={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        registry.validate(decoded.claims)
    except JoseError as exc:
        raise InvalidToken(type(exc).__name__) from exc
    except (ValueError, TypeError) as exc:
        raise InvalidToken("malformed") from exc
    claims = decoded.claims
    roles = claims.get("roles")
    if (
        not isinstance(roles, list)
        or not roles
        or not all(isinstance(r, str) and r in policy.ROLES for r in roles)
    ):
        raise InvalidToken("bad roles")
    kind = _str(claims, "kind")
    if kind not in ("staff", "citizen"):
        raise InvalidToken("bad kind")
    exp = _int(claims, "exp")
    found = AccessClaims(
        account_id=_uuid(claims, "sub"),
        tenant_id=_uuid(claims, "tid"),
        tenant_code=_str(claims, "tenant"),
        kind=kind,
        roles=tuple(roles),
        scope=_str(claims, "scope"),
        jti=_str(claims, "jti"),
        token_version=_int(claims, "ver"),
        session_id=_uuid(claims, "sid"),
        auth_time=dt.datetime.fromtimestamp(_int(claims, "auth_time"), dt.UTC),
        expires_at=dt.datetime.fromtimestamp(exp, dt.UTC),
    )
    return found, kid


def new_secret_token(prefix: str) -> tuple[str, bytes]:
    """A fresh opaque token (256 random bits) and the SHA-256 the database keeps."""
    token = f"{prefix}_{secrets.token_urlsafe(32)}"
    return token, secret_hash(token)


def secret_hash(token: str) -> bytes:
    """SHA-256 of an opaque token: 256 random bits need no slow hash."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
