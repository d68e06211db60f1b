"""``vaxport verify`` (offline verification) and ``vaxport trust ...`` (the trust list)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import typer

from vaxport.certificates.trust.files import TrustFileError
from vaxport.certificates.trust.offline import load_files, move_pin, pinned_thumbprint
from vaxport.certificates.verify import Verification, verify
from vaxport.certificates.verify.limits import MAX_TEXT_CHARS

MAX_INPUT_BYTES = 8 * 1024 * 1024  # a phone photo


def _usage(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _parse_at(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _usage(f"--at {text!r} is not an ISO 8601 time") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _read_payload(payload: str) -> str | bytes:
    if payload == "-":
        return sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    if not payload.startswith(("HC1:", "shc:/")):
        try:
            path = Path(payload)
            if path.is_file():
                with path.open("rb") as f:
                    return f.read(MAX_INPUT_BYTES + 1)
        except OSError:  # too long for a file name: it is the payload itself
            pass
    return payload[: MAX_TEXT_CHARS + 1]


def _print_human(result: Verification) -> None:
    verdict = "VALID" if result.valid else "INVALID"
    typer.echo(f"{verdict} ({result.format or 'unknown format'})")
    if result.reason:
        typer.echo(f"reason: {result.reason}")
    for name, value in result.checks.items():
        typer.echo(f"  {name:<11} {'-' if value is None else 'ok' if value else 'FAILED'}")
    holder = result.to_json()["holder"]
    if holder:
        typer.echo(f"holder: {holder.get('given_name') or ''} {holder.get('family_name') or ''}")
        typer.echo(f"born: {holder.get('birth_date')}")
        vaccination = holder.get("vaccination")
        if vaccination:
            typer.echo(
                f"doses: {vaccination['doses']} (latest {vaccination['latest_date']}, "
                f"{vaccination['product']}); fully vaccinated: {vaccination['fully_vaccinated']}"
            )


def _follow_rotation(pin: Path, key: dict[str, Any]) -> None:
    """The bundle is signed by a key the pinned one endorsed: a pin file moves to it (so
    bundles of the retired key are refused from now on); a thumbprint is only told."""
    if pin.is_file():
        try:
            move_pin(pin, key)
        except OSError as exc:
            raise _usage(f"{pin}: cannot move the pin to the new key: {exc.strerror}") from None
        typer.echo(f"trust-list key rotated: {pin} now pins {key.get('kid')}", err=True)
    else:
        typer.echo(f"trust-list key rotated: pin {key.get('kid')} from now on", err=True)


def verify_command(
    payload: str = typer.Argument(
        ...,
        metavar="PAYLOAD|IMAGE",
        help="QR text (HC1:..., shc:/...), a JWS, or a file: a PNG/JPEG photo, a "
        ".smart-health-card file or a text file; '-' reads standard input.",
    ),
    at: str | None = typer.Option(
        None, "--at", help="Verify at this ISO 8601 time (default: now)."
    ),
    trust: list[Path] = typer.Option(
        [],
        "--trust",
        help="Trusted keys: an X.509 DSC (PEM, DER, base64 DER), an SHC issuer JWKS "
        "(trusted by kid), or a trust bundle (needs --trust-key). Repeatable.",
    ),
    trust_key: str | None = typer.Option(
        None,
        "--trust-key",
        help="The trust-list key bundles must be signed with: its JWK thumbprint "
        "(`vaxport trust key`) or a file holding its public JWK. A bundle signed by a key "
        "it endorsed (a rotation) is accepted, and a file is moved to that key.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Verify a certificate offline: exit 0 valid, 1 invalid, 2 usage error."""
    when = _parse_at(at)
    try:
        found = load_files(trust, pinned=pinned_thumbprint(trust_key) if trust_key else None)
    except TrustFileError as exc:
        raise _usage(str(exc)) from None
    if found.key is not None and trust_key is not None:
        _follow_rotation(Path(trust_key), found.key)
    result = verify(_read_payload(payload), trust=found.store, at=when)
    if as_json:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        _print_human(result)
    raise typer.Exit(0 if result.valid else 1)


trust_app = typer.Typer(
    help="Trust lists: foreign signers, revocations, the signed bundle.", no_args_is_help=True
)
TenantOpt = typer.Option(..., "--tenant", "-t", help="Tenant code (whose trust it joins).")


def _tenant_id(db: Any, code: str) -> Any:
    from vaxport.core.cache import cache_from_url
    from vaxport.settings import get_settings
    from vaxport.tenancy.service import get_tenant_or_404

    async def run() -> Any:
        cache = cache_from_url(get_settings().redis_url)
        try:
            return (await get_tenant_or_404(db=db, cache=cache, code=code)).id
        finally:
            await cache.close()

    return run()


def _run_trust(fn: Any) -> Any:
    from vaxport.core.cli_support import run_with_db
    from vaxport.core.errors import Problem

    try:
        return run_with_db(fn)
    except (TrustFileError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    except Problem as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        for e in exc.errors:
            typer.echo(f"  {e['field']}: {e['reason']}", err=True)
        raise typer.Exit(1) from exc


@trust_app.command("import")
def trust_import(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="DSC (PEM/DER/base64) or JWKS."
    ),
    tenant: str = TenantOpt,
    iss: str | None = typer.Option(None, "--iss", help="The issuer URL of a JWKS file."),
    country: str | None = typer.Option(None, "--country", help="The DSCs' country (ISO 3166)."),
) -> None:
    """Trust the signers in FILE for TENANT (audited as the operator)."""
    from vaxport.certificates.trust import service as trust
    from vaxport.certificates.trust.files import MAX_FILE_BYTES
    from vaxport.core.principal import OPERATOR

    with file.open("rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)

    async def run(db: Any) -> Any:
        return await trust.import_file(
            db=db,
            tenant_id=await _tenant_id(db, tenant),
            data=data,
            iss=iss,
            country=country,
            by=OPERATOR,
            source=f"file:{file.name}",
        )

    out = _run_trust(run)
    if out.issuer:
        typer.echo(f"issuer {out.issuer}: {out.issuer_keys} key(s) trusted")
    else:
        typer.echo(f"{out.dscs_added} certificate(s) added, {out.dscs_known} already trusted")


@trust_app.command("fetch")
def trust_fetch(
    url: str = typer.Argument(..., help="An issuer directory or an issuer's JWKS URL (https)."),
    tenant: str = TenantOpt,
) -> None:
    """Fetch SHC issuer keys from URL (https, 10 s timeout, 2 MiB cap) and trust them."""
    from vaxport.certificates.trust import service as trust
    from vaxport.certificates.trust.fetch import fetch_issuers
    from vaxport.core.principal import OPERATOR

    async def run(db: Any) -> list[str]:
        tenant_id = await _tenant_id(db, tenant)
        try:
            found = await fetch_issuers(url)
        except Exception as exc:
            if isinstance(exc, TrustFileError):
                raise
            raise TrustFileError(f"{url}: {type(exc).__name__}") from None
        lines = []
        for iss, jwks in found:
            out = await trust.import_issuer(
                db=db, tenant_id=tenant_id, iss=iss, jwks=jwks, by=OPERATOR, source=url
            )
            lines.append(f"issuer {iss}: {out.issuer_keys} key(s) trusted")
        return lines

    for line in _run_trust(run):
        typer.echo(line)


@trust_app.command("remove")
def trust_remove(
    kid: str = typer.Argument(..., help="The key's kid: 16 hex digits (DSC) or a thumbprint."),
    tenant: str = TenantOpt,
    kind: str = typer.Option(..., "--kind", help="eu-dcc (a DSC) or shc (an issuer key)."),
) -> None:
    """Stop trusting a DSC or SHC issuer key TENANT imported (audited as the operator)."""
    from vaxport.certificates.trust import withdraw
    from vaxport.core.principal import OPERATOR

    if kind not in ("eu-dcc", "shc"):
        raise _usage("--kind is eu-dcc or shc")
    remove = withdraw.remove_dsc if kind == "eu-dcc" else withdraw.remove_shc_key

    async def run(db: Any) -> int:
        return await remove(db=db, tenant_id=await _tenant_id(db, tenant), kid=kid, by=OPERATOR)

    removed = _run_trust(run)
    typer.echo(f"{kind} key {kid} removed ({removed} entr{'y' if removed == 1 else 'ies'})")


@trust_app.command("key")
def trust_key() -> None:
    """Print the trust-list key's thumbprint (what offline verifiers pin: --trust-key)."""
    from vaxport.certificates.trust import service as trust

    async def run(db: Any) -> dict[str, Any]:
        return await trust.trust_list_key(db=db)

    typer.echo(_run_trust(run)["kid"])


@trust_app.command("export")
def trust_export(
    output: Path | None = typer.Option(None, "--output", "-o", help="File (default: stdout)."),
) -> None:
    """Write the signed trust bundle (what GET /api/v1/trust-list serves)."""
    from vaxport.certificates.trust import service as trust

    async def run(db: Any) -> dict[str, Any]:
        return await trust.export_bundle(db=db)

    text = json.dumps(_run_trust(run), indent=1)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
