"""``vaxport keys init-csca|init-dsc|import-dsc|init-shc|rotate-dsc|rotate-shc|list-cert``
and ``rotate-trust-list`` (the installation's key that signs exported trust bundles).

Certificate signing keys, per tenant: the entry floor adds these commands to the
``vaxport keys`` group (core's), beside the data-key and token-key commands. Nothing
here prints key material: only kids, states, subjects and dates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import typer

from vaxport.certificates import keys
from vaxport.certificates.signers import KeyStateError
from vaxport.core.cli_support import run_with_db
from vaxport.core.crypto.errors import CryptoError
from vaxport.core.db import Database
from vaxport.core.errors import Problem
from vaxport.tenancy.service import TenantInfo

T = TypeVar("T")
TENANT = typer.Option(..., "--tenant", help="Tenant code.")
MAX_FILE_BYTES = 64 * 1024  # a certificate or key file is a few kilobytes


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _on_tenant(code: str, fn: Callable[[Database, TenantInfo], Awaitable[T]]) -> T:
    from vaxport.core.cache import cache_from_url
    from vaxport.core.crypto.state import get_keyring
    from vaxport.tenancy.service import get_tenant_or_404

    async def main(db: Database) -> T:
        tenant = await get_tenant_or_404(db=db, cache=cache_from_url(""), code=code)
        return await fn(db, tenant)

    try:
        get_keyring().provider.current_kek_id()  # a bad provider fails before any work
        return run_with_db(main)
    except Problem as exc:
        raise _fail(f"tenant {code!r}: {exc.detail}") from exc
    except (KeyStateError, CryptoError) as exc:
        raise _fail(str(exc)) from exc


def _show(info: keys.KeyInfo) -> str:
    until = f" until {info.not_after:%Y-%m-%d}" if info.not_after else ""
    return f"{info.format} key {info.kid} is {info.state}{until}"


def _country(tenant: TenantInfo) -> tuple[str, str]:
    settings = tenant.config.certificates
    if settings.country is None or settings.issuer is None:
        raise KeyStateError(
            "set certificates.country and certificates.issuer in the tenant's configuration "
            "first (they name the CSCA and the DSCs)"
        )
    return settings.country, settings.issuer


def init_csca(
    tenant: str = TENANT,
    days: int = typer.Option(keys.DEFAULT_CSCA_DAYS, min=30, max=7300, help="Validity in days."),
) -> None:
    """Create the tenant's Country Signing CA (self-signed) that certifies its DSCs."""

    async def act(db: Database, t: TenantInfo) -> keys.KeyInfo:
        country, issuer = _country(t)
        return await keys.init_csca(
            db,
            tenant_id=t.id,
            country=country,
            organisation=issuer,
            common_name=f"vaxport {t.code} CSCA",
            days=days,
        )

    typer.echo(_show(_on_tenant(tenant, act)))


def _dsc(tenant: str, days: int, *, rotate: bool) -> None:
    async def act(db: Database, t: TenantInfo) -> keys.KeyInfo:
        _country(t)
        return await keys.init_dsc(
            db,
            tenant_id=t.id,
            common_name=f"vaxport {t.code} DSC",
            days=days,
            validity_days=t.config.certificates.validity,
            rotate=rotate,
        )

    typer.echo(_show(_on_tenant(tenant, act)))


DSC_DAYS = typer.Option(keys.DEFAULT_DSC_DAYS, min=1, max=3650, help="Validity in days.")


def init_dsc(tenant: str = TENANT, days: int = DSC_DAYS) -> None:
    """Create an EU DCC Document Signer (EC P-256) under the tenant's CSCA."""
    _dsc(tenant, days, rotate=False)


def rotate_dsc(tenant: str = TENANT, days: int = DSC_DAYS) -> None:
    """New Document Signer; the old one signs no more but stays published."""
    _dsc(tenant, days, rotate=True)


def _read(path: Path, what: str) -> bytes:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise _fail(f"the {what} file is larger than {MAX_FILE_BYTES} bytes")
        return path.read_bytes()
    except OSError as exc:
        raise _fail(f"cannot read the {what} file {path}: {exc.strerror}") from exc


def import_dsc(
    tenant: str = TENANT,
    cert: Path = typer.Option(..., "--cert", help="The DSC (PEM or DER X.509)."),
    key: Path = typer.Option(..., "--key", help="Its private key (unencrypted PEM or DER)."),
) -> None:
    """Install a Document Signer from your own PKI (checked: key, usage, validity)."""
    cert_data, key_data = _read(cert, "certificate"), _read(key, "key")

    async def act(db: Database, t: TenantInfo) -> keys.KeyInfo:
        return await keys.import_dsc(
            db,
            tenant_id=t.id,
            cert_data=cert_data,
            key_data=key_data,
            validity_days=t.config.certificates.validity,
        )

    typer.echo(_show(_on_tenant(tenant, act)))


def _shc(tenant: str, *, rotate: bool) -> None:
    async def act(db: Database, t: TenantInfo) -> keys.KeyInfo:
        return await keys.init_shc(
            db, tenant_id=t.id, validity_days=t.config.certificates.validity, rotate=rotate
        )

    typer.echo(_show(_on_tenant(tenant, act)))


def init_shc(tenant: str = TENANT) -> None:
    """Create the tenant's SMART Health Card issuer key (EC P-256)."""
    _shc(tenant, rotate=False)


def rotate_shc(tenant: str = TENANT) -> None:
    """New SMART Health Card issuer key; the old one stays in the issuer's JWKS."""
    _shc(tenant, rotate=True)


def list_cert(tenant: str = TENANT) -> None:
    """The tenant's certificate keys: kid, format, state, validity (no secrets)."""

    async def act(db: Database, t: TenantInfo) -> list[keys.KeyInfo]:
        return await keys.list_keys(db, tenant_id=t.id)

    found = _on_tenant(tenant, act)
    if not found:
        typer.echo("no certificate keys; start with init-csca, init-dsc or init-shc")
    for k in found:
        valid = (
            f"{k.not_before:%Y-%m-%d}..{k.not_after:%Y-%m-%d}"
            if k.not_before and k.not_after
            else f"since {k.created_at:%Y-%m-%d}"
        )
        published = f" published until {k.publish_until:%Y-%m-%d}" if k.publish_until else ""
        typer.echo(f"{k.format:<5} {k.kid:<44} {k.state:<8} {k.origin:<9} {valid}{published}")


def rotate_trust_list(
    endorse: bool = typer.Option(
        True,
        "--endorse/--no-endorse",
        help="Have the current key endorse the new one (devices pinning it follow); "
        "--no-endorse after a suspected exposure: every device must be re-pinned by hand.",
    ),
) -> None:
    """New trust-list key (signs every bundle from now on); the current one retires."""
    from vaxport.certificates.trust import service as trust
    from vaxport.certificates.trust.signing_key import Rotated
    from vaxport.core.principal import OPERATOR

    async def act(db: Database) -> Rotated:
        return await trust.rotate_key(db=db, by=OPERATOR, endorse=endorse)

    try:
        done = run_with_db(act)
    except (KeyStateError, CryptoError) as exc:
        raise _fail(str(exc)) from exc
    typer.echo(f"trust-list key {done.kid} signs bundles; {done.previous} retired")
    if done.endorsed:
        typer.echo(f"  endorsed by {done.previous}: devices pinning it move to the new key")
    else:
        typer.echo(f"  not endorsed: give devices the new thumbprint {done.kid} by hand")


COMMANDS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("init-csca", init_csca),
    ("init-dsc", init_dsc),
    ("import-dsc", import_dsc),
    ("init-shc", init_shc),
    ("rotate-dsc", rotate_dsc),
    ("rotate-shc", rotate_shc),
    ("list-cert", list_cert),
    ("rotate-trust-list", rotate_trust_list),
)
