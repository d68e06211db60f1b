"""Withdrawing trust: a tenant's national admin (or the operator) removes a foreign DSC or
an SHC issuer key the tenant imported.

Tenant-scoped like the imports (another tenant's rows are not found), audited, and
followed by :func:`~.service.forget`: this process verifies without the key at once,
the others at their next reload (``REFRESH_SECONDS``), the exported bundle at its next
rebuild. This installation's own signing keys are not trust-list entries: they are
trusted because they are ours, and retire through ``vaxport keys rotate-dsc`` /
``rotate-shc`` (a key that signed certificates stays published until they expire).
"""

from __future__ import annotations

import base64
import re
import uuid

from sqlalchemy import select

from vaxport.certificates import signers
from vaxport.certificates.models import FORMAT_DCC, FORMAT_SHC
from vaxport.certificates.trust.models import TrustedDsc, TrustedShcIssuer
from vaxport.certificates.trust.service import forget
from vaxport.core.audit import record
from vaxport.core.clock import utcnow
from vaxport.core.db import Database
from vaxport.core.errors import Conflict, NotFound, invalid
from vaxport.core.i18n import N_
from vaxport.core.principal import Principal
from vaxport.tenancy.service import tenant_ids

_DCC_KID = re.compile(r"[0-9a-f]{16}")
MAX_SHC_KID_CHARS = 100


class OwnKey(Conflict):
    """The key is one of this installation's own signing keys, not an imported one."""

    slug = "own-signing-key"
    title = N_("This is one of this installation's own signing keys")


async def _is_own(db: Database, key_format: str, kid: str) -> bool:
    """Whether a tenant of this installation publishes ``kid`` as its own ``key_format``
    key (read tenant by tenant: row-level security stays on)."""
    for tenant_id in await tenant_ids(db):
        if any(row.kid == kid for row in await signers.published(db, tenant_id, key_format)):
            return True
    return False


def _own(command: str) -> OwnKey:
    return OwnKey(
        N_(
            "it is trusted because this installation signs with it, not because it was "
            "imported: retire it with vaxport keys {command} (it stays published until the "
            "certificates it signed expire)"
        ),
        params={"command": command},
    )


async def remove_dsc(*, db: Database, tenant_id: uuid.UUID, kid: str, by: Principal) -> int:
    """Stop trusting the tenant's imported DSCs with ``kid`` (16 hex digits, as the trust
    listing and the verifier's reason write it); returns how many were removed."""
    if not _DCC_KID.fullmatch(kid):
        raise invalid("kid", N_("a DCC kid is 16 lower-case hex digits (8 bytes)"))
    if await _is_own(db, FORMAT_DCC, base64.b64encode(bytes.fromhex(kid)).decode()):
        raise _own("rotate-dsc")
    async with db.transaction(tenant_id=tenant_id) as uow:
        rows = list(
            await uow.session.scalars(
                select(TrustedDsc)
                .where(TrustedDsc.tenant_id == tenant_id, TrustedDsc.kid == kid)
                .with_for_update()
            )
        )
        if not rows:
            raise NotFound(N_("no imported signing certificate has this kid"))
        for row in rows:
            await uow.session.delete(row)
            await record(
                uow,
                by=by,
                action="trust.dsc_remove",
                object_type="trust_dsc",
                object_id=row.id,
                details={"kid": row.kid, "country": row.country},
            )
    forget(db)
    return len(rows)


async def remove_shc_key(*, db: Database, tenant_id: uuid.UUID, kid: str, by: Principal) -> int:
    """Stop trusting the SHC issuer key ``kid`` under every issuer of the tenant that
    lists it (an issuer left without keys goes too); returns how many issuers held it."""
    if not 0 < len(kid) <= MAX_SHC_KID_CHARS:
        raise invalid("kid", N_("an SHC kid is a key's thumbprint"))
    if await _is_own(db, FORMAT_SHC, kid):
        raise _own("rotate-shc")
    async with db.transaction(tenant_id=tenant_id) as uow:
        issuers = await uow.session.scalars(
            select(TrustedShcIssuer)
            .where(TrustedShcIssuer.tenant_id == tenant_id)
            .order_by(TrustedShcIssuer.iss)
            .with_for_update()
        )
        held = 0
        for issuer in issuers:
            keys = [k for k in issuer.jwks.get("keys", []) if k.get("kid") != kid]
            if len(keys) == len(issuer.jwks.get("keys", [])):
                continue
            held += 1
            if keys:
                issuer.jwks, issuer.updated_at = {"keys": keys}, utcnow()
            else:
                await uow.session.delete(issuer)
            await record(
                uow,
                by=by,
                action="trust.issuer_key_remove",
                object_type="trust_shc_issuer",
                object_id=issuer.id,
                details={"iss": issuer.iss, "kid": kid, "keys_left": len(keys)},
            )
        if not held:
            raise NotFound(N_("no imported issuer key has this kid"))
    forget(db)
    return held
