"""The demo's certificate keys: a CSCA and DSC (EU DCC) and an SHC issuer key for the
demo country, created once, so the demo issues certificates as soon as a dose is
recorded (a demo key nobody outside this installation trusts)."""

from __future__ import annotations

import uuid

from vaxport.certificates import keys
from vaxport.certificates.issuance import own_trust
from vaxport.certificates.models import FORMAT_CSCA, FORMAT_DCC, FORMAT_SHC
from vaxport.certificates.signers import KeyStateError, active_row
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.service import get_tenant_or_404


async def _has(db: Database, tenant_id: uuid.UUID, key_format: str) -> bool:
    try:
        await active_row(db, tenant_id, key_format)
    except KeyStateError:
        return False
    return True


async def init_demo_keys(
    db: Database, cache: Cache, settings: Settings, tenant_code: str, url: str
) -> list[str]:
    """Create the missing certificate keys of the formats the demo country enables."""
    tenant = await get_tenant_or_404(db=db, cache=cache, code=tenant_code)
    cfg = tenant.config.certificates
    made = []
    validity = cfg.validity
    if "eu-dcc" in cfg.formats and cfg.country and cfg.issuer:
        if not await _has(db, tenant.id, FORMAT_CSCA):
            await keys.init_csca(
                db,
                tenant_id=tenant.id,
                country=cfg.country,
                organisation=cfg.issuer,
                common_name=f"vaxport {tenant.code} demo CSCA",
            )
            made.append("CSCA")
        if not await _has(db, tenant.id, FORMAT_DCC):
            await keys.init_dsc(
                db,
                tenant_id=tenant.id,
                common_name=f"vaxport {tenant.code} demo DSC",
                validity_days=validity,
            )
            made.append("EU DCC signer")
    if "shc" in cfg.formats and not await _has(db, tenant.id, FORMAT_SHC):
        await keys.init_shc(db, tenant_id=tenant.id, validity_days=validity)
        made.append("SMART Health Card issuer")
    if not made:
        return []
    own_trust.forget(db)
    return [f"  certificate keys: {', '.join(made)} created (demo keys; verify at {url}/verify)"]
