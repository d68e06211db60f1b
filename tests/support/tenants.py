"""Creating tenants in tests the way operators do: through the real configuration loader."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from tests.support.parts import RULES
from tests.tenancy.helpers import demo_config, write_config
from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.db import Database
from vaxport.core.i18n import missing_translations
from vaxport.core.ids import short_code
from vaxport.tenancy import service as tenancy
from vaxport.tenancy.loader import load
from vaxport.tenancy.service import TenantInfo


async def load_tenant(
    db: Database,
    cache: Cache | None = None,
    *,
    code: str | None = None,
    name: str | None = None,
    changes: dict[str, Any] | None = None,
) -> TenantInfo:
    """Load a copy of the demo country under a fresh (or given) code; return it."""
    cache = cache or Cache(MemoryBackend())
    data = demo_config()
    data["code"] = code or f"t{short_code(6).lower()}"
    if name is not None:
        data["name"] = name
    if changes and "locales" in changes:
        # The demo's texts are in en + fr; a tenant with other languages keeps English.
        data = _only_english(data)
    data.update(changes or {})
    if changes and "locales" in changes and "language_fallbacks" not in changes:
        # A language vaxport has no complete catalog for is served with English filling
        # the gaps, as its operators would have to declare.
        gaps = {loc: "en" for loc in data["locales"] if missing_translations(loc)}
        if gaps and "en" in data["locales"]:
            data["language_fallbacks"] = gaps
    with tempfile.TemporaryDirectory() as tmp:
        path = write_config(Path(tmp) / f"{data['code']}.yaml", data)
        await load(db=db, cache=cache, path=path, rules=RULES)
    return await tenancy.get_tenant_or_404(db=db, cache=cache, code=data["code"])


def _only_english(node: Any) -> Any:
    """Replace every {en: ..., fr: ...} text with its English value."""
    if isinstance(node, dict):
        if "en" in node and set(node) <= {"en", "fr"}:
            return node["en"]
        return {k: _only_english(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_only_english(v) for v in node]
    return node
