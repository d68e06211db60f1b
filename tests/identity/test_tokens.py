"""Access tokens under attack, signing keys, rotation and the JWKS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import select

from tests.identity.conftest import Clock
from tests.identity.helpers import Staff, api_login, bearer, make_staff
from tests.support.parts import METADATA
from tests.support.tenants import load_tenant
from vaxport.core.crypto import get_keyring, set_keyring
from vaxport.core.crypto.keyring import Keyring
from vaxport.core.crypto.providers import LocalKeyFileProvider
from vaxport.core.db import Database
from vaxport.identity.credentials import signing
from vaxport.identity.models import SigningKey
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(head))),
        json.loads(base64.urlsafe_b64decode(pad(body))),
    )


def sign_raw(header: dict[str, Any], claims: dict[str, Any], key: ECKey) -> str:
    """ES256 by hand, for headers a library would refuse to write."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    private = key.get_op_key("sign")
    der = private.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr]
    r, s = decode_dss_signature(der)
    return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


async def resign(db: Database, token: str, **changes: Any) -> str:
    """The same token with claims changed, validly signed with our active key."""
    header, claims = parts(token)
    claims.update(changes)
    kid, key = await signing.active_key(db)
    return jwt.encode({**header, "kid": kid}, claims, key, algorithms=["ES256"])


async def _me(client: httpx.AsyncClient, tenant: TenantInfo, token: str) -> httpx.Response:
    return await client.get(f"/api/v1/{tenant.code}/me", headers=bearer(token))


async def test_a_valid_token_works_and_its_claims_are_complete(
    client: httpx.AsyncClient, admin: Staff, tenant: TenantInfo, settings: Settings
) -> None:
    token = (await api_login(client, admin))["access_token"]
    header, claims = parts(token)
    assert header["alg"] == "ES256"
    assert header["typ"] == "at+jwt"
    assert {"iss", "aud", "sub", "tenant", "roles", "scope", "jti", "ver", "exp"} <= set(claims)
    assert claims["iss"] == settings.public_url
    assert claims["tenant"] == tenant.code
    assert claims["roles"] == ["national_admin"]
    assert claims["scope"] == "national"
    assert claims["amr"] == ["pwd", "otp"]
    assert claims["exp"] - claims["iat"] == settings.access_token_seconds
    assert (await _me(client, tenant, token)).status_code == 200


async def _refused(client: httpx.AsyncClient, tenant: TenantInfo, token: str) -> None:
    r = await _me(client, tenant, token)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == 'Bearer realm="vaxport", error="invalid_token"'
    assert r.headers["content-type"] == "application/problem+json"


async def test_alg_none_is_refused(
    client: httpx.AsyncClient, admin: Staff, tenant: TenantInfo
) -> None:
    token = (await api_login(client, admin))["access_token"]
    header, claims = parts(token)
    unsigned = ".".join(
        [
            _b64(json.dumps({**header, "alg": "none"}).encode()),
            _b64(json.dumps(claims).encode()),
            "",
        ]
    )
    await _refused(client, tenant, unsigned)


async def test_hs256_signed_with_the_public_key_is_refused(
    client: httpx.AsyncClient, admin: Staff, tenant: TenantInfo
) -> None:
    token = (await api_login(client, admin))["access_token"]
    header, claims = parts(token)
    jwks = (await client.get("/.well-known/jwks.json")).json()["keys"]
    public = ECKey.import_key(jwks[0]).get_op_key("verify")
    pem = public.public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # Crafted by hand: libraries (joserfc included) refuse to do this on purpose.
    signing_input = (
        _b64(json.dumps({**header, "alg": "HS256"}).encode())
        + "."
        + _b64(json.dumps(claims).encode())
    )
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    await _refused(client, tenant, f"{signing_input}.{_b64(mac)}")


@pytest.mark.parametrize(
    "changes",
    [
        {"aud": "https://elsewhere.example/api"},
        {"iss": "https://elsewhere.example"},
        {"ver": 99},
        {"roles": ["operator"]},
        {"sub": "00000000-0000-7000-8000-000000000000"},
        {"tid": "00000000-0000-7000-8000-000000000000"},
        {"exp": None},
        {"kind": "robot"},
    ],
    ids=[
        "aud",
        "iss",
        "stale-version",
        "roles-not-the-account's",
        "unknown-sub",
        "tid",
        "no-exp",
        "kind",
    ],
)
async def test_validly_signed_tokens_with_wrong_claims_are_refused(
    client: httpx.AsyncClient,
    admin: Staff,
    tenant: TenantInfo,
    clean_db: Database,
    changes: dict[str, Any],
) -> None:
    token = (await api_login(client, admin))["access_token"]
    forged = await resign(clean_db, token, **changes)
    if changes.get("exp", 1) is None:
        _, claims = parts(forged)
        assert claims["exp"] is None
    await _refused(client, tenant, forged)


async def test_tampered_payload_is_refused(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    analyst = await make_staff(clean_db, settings, tenant, role="analyst")
    token = (await api_login(client, analyst))["access_token"]
    head, _body, sig = token.split(".")
    _, claims = parts(token)
    claims["roles"] = ["national_admin"]
    tampered = f"{head}.{_b64(json.dumps(claims).encode())}.{sig}"
    await _refused(client, tenant, tampered)


async def test_expired_token_is_refused(
    client: httpx.AsyncClient, admin: Staff, tenant: TenantInfo, frozen: Clock, settings: Settings
) -> None:
    token = (await api_login(client, admin))["access_token"]
    frozen.advance(settings.access_token_seconds - 1)
    assert (await _me(client, tenant, token)).status_code == 200
    frozen.advance(60)  # beyond the 30 s leeway
    await _refused(client, tenant, token)


async def test_token_of_another_tenant_finds_nothing_there(
    client: httpx.AsyncClient, admin: Staff, clean_db: Database
) -> None:
    other = await load_tenant(clean_db)
    token = (await api_login(client, admin))["access_token"]
    for path in (f"/api/v1/{other.code}/me", f"/api/v1/{other.code}/staff"):
        r = await client.get(path, headers=bearer(token))
        assert r.status_code == 404, path
    # A token claiming the other tenant (code) with this tenant's id does not verify.
    forged = await resign(clean_db, token, tenant=other.code)
    r = await client.get(f"/api/v1/{other.code}/me", headers=bearer(forged))
    assert r.status_code == 401


async def test_logout_revokes_the_token_at_once(
    client: httpx.AsyncClient, admin: Staff, tenant: TenantInfo
) -> None:
    tokens = await api_login(client, admin)
    access = tokens["access_token"]
    r = await client.post(f"/api/v1/{tenant.code}/auth/logout", headers=bearer(access))
    assert r.status_code == 204
    await _refused(client, tenant, access)
    r = await client.post(
        f"/api/v1/{tenant.code}/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert r.status_code == 401


@pytest.mark.parametrize(
    "header",
    [{"typ": "JWT"}, {"kid": "no-such-key"}, {"kid": None}, {"crit": ["x-v"], "x-v": 1}],
    ids=["typ", "unknown-kid", "no-kid", "crit"],
)
async def test_headers_other_than_ours_are_refused(
    client: httpx.AsyncClient,
    admin: Staff,
    tenant: TenantInfo,
    clean_db: Database,
    header: dict[str, Any],
) -> None:
    token = (await api_login(client, admin))["access_token"]
    head, claims = parts(token)
    _kid, key = await signing.active_key(clean_db)
    fields = {**head, **header}
    fields = {k: v for k, v in fields.items() if v is not None}
    await _refused(client, tenant, sign_raw(fields, claims, key))


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Bearer",
        "Bearer not-a-jwt",
        "Basic dXNlcjpwYXNz",
        "Bearer a.b.c",
        "Bearer " + "x" * 5000,
    ],
)
async def test_garbage_credentials_are_401_never_500(
    client: httpx.AsyncClient, tenant: TenantInfo, value: str
) -> None:
    r = await client.get(f"/api/v1/{tenant.code}/me", headers={"Authorization": value})
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")


async def test_rotation_keeps_old_tokens_valid_until_they_expire_then_retires_the_key(
    client: httpx.AsyncClient,
    admin: Staff,
    tenant: TenantInfo,
    clean_db: Database,
    settings: Settings,
    frozen: Clock,
) -> None:
    old_token = (await api_login(client, admin))["access_token"]
    old_kid = parts(old_token)[0]["kid"]
    done = await signing.rotate(clean_db, access_token_seconds=settings.access_token_seconds)
    assert done.retiring == [old_kid]
    kids = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    assert kids == {old_kid, done.new_kid}
    assert (await _me(client, tenant, old_token)).status_code == 200
    frozen.advance(30)  # the next TOTP step: the same code is never accepted twice
    new_token = (await api_login(client, admin))["access_token"]
    assert parts(new_token)[0]["kid"] == done.new_kid

    # Past the deadline the old key is neither published nor accepted (cached or not).
    frozen.advance((done.publish_until - frozen.now).total_seconds() + 1)
    kids = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    assert kids == {done.new_kid}
    resigned_old = await _with_key(clean_db, old_token, old_kid)
    await _refused(client, tenant, resigned_old)
    again = await signing.rotate(clean_db, access_token_seconds=settings.access_token_seconds)
    assert again.retired == [old_kid]


async def _with_key(db: Database, token: str, kid: str) -> str:
    """``token`` with fresh times, signed by stored key ``kid`` (unwrapped like the app)."""
    from vaxport.core import clock

    async with db.read() as s:
        row = (await s.execute(select(SigningKey).where(SigningKey.kid == kid))).scalar_one()
        key = signing._unwrap(row)
    header, claims = parts(token)
    now = int(clock.utcnow().timestamp())
    claims.update(iat=now, nbf=now, exp=now + 600)
    return jwt.encode(header, claims, key, algorithms=["ES256"])


async def test_jwks_publishes_public_keys_only(client: httpx.AsyncClient) -> None:
    r = await client.get("/.well-known/jwks.json")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=60"
    [key] = r.json()["keys"]
    assert set(key) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig")


@pytest.fixture
def copied_keyring(app: Any, key_file: Path, tmp_path: Path) -> Iterator[None]:
    """A keyring over a copy of the session's key file: a KEK rotation stays local.

    After the app (building it installs a keyring over the session file): installed
    first, the copy was replaced and the rotation below dropped the session file's KEK,
    which the session keyring still had cached, so later tests wrapped keys under a KEK
    no other process could read."""
    copy = tmp_path / "keys.json"
    shutil.copy(key_file, copy)
    previous = get_keyring()
    set_keyring(Keyring(LocalKeyFileProvider(copy)))
    yield
    set_keyring(previous)


@pytest.mark.usefixtures("copied_keyring")
async def test_signing_private_keys_are_stored_wrapped_and_follow_a_kek_rotation(
    client: httpx.AsyncClient, admin: Staff, tenant: TenantInfo, clean_db: Database
) -> None:
    from vaxport.core.crypto.kek import rotate_kek

    kid, key = await signing.active_key(clean_db)
    scalar = key.get_op_key("sign").private_numbers().private_value.to_bytes(32, "big")  # type: ignore[union-attr]
    async with clean_db.read() as s:
        row = (await s.execute(select(SigningKey).where(SigningKey.kid == kid))).scalar_one()
        before = (bytes(row.private_key_wrapped), row.provider_key_id)
        assert "d" not in row.public_jwk
    assert scalar not in before[0]

    await rotate_kek(clean_db, metadata=METADATA, keep_old=False)
    async with clean_db.read() as s:
        row = (await s.execute(select(SigningKey).where(SigningKey.kid == kid))).scalar_one()
        after = (bytes(row.private_key_wrapped), row.provider_key_id)
    assert after[1] != before[1]  # re-wrapped under the new KEK, old KEK dropped
    signing.forget(clean_db)
    token = (await api_login(client, admin))["access_token"]
    assert parts(token)[0]["kid"] == kid
    assert (await _me(client, tenant, token)).status_code == 200
