"""Trust for ``vaxport verify --trust FILE ...``: files read on this machine, no database.

A JWKS file names no issuer URL, so its keys are trusted by ``kid`` alone (an SHC whose
header names that kid verifies whatever its ``iss``; JWK thumbprints make collisions
between issuers impractical). A trust bundle is accepted only with ``pinned``: the JWK
thumbprint of the installation's trust-list key, or of an older one that endorsed it
(after a rotation the pin moves: :class:`OfflineTrust` says to which key).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaxport.certificates.trust import bundle
from vaxport.certificates.trust.files import MAX_FILE_BYTES, TrustFileError, read_material
from vaxport.certificates.verify.trust_store import TrustStore


def pinned_thumbprint(value: str) -> str:
    """``--trust-key``: a thumbprint, or a file holding the public JWK (``key`` of a bundle)."""
    path = Path(value)
    if not path.is_file():
        return value.strip()
    try:
        jwk = json.loads(path.read_bytes()[:65536])
        return bundle.thumbprint(jwk.get("key", jwk))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise TrustFileError(f"{value}: not a public JWK") from None


@dataclass(slots=True)
class OfflineTrust:
    """The keys the files trust, and the pin after them: ``key`` is the public JWK of the
    newest bundle's key when it is not the one pinned (the pinned key endorsed it)."""

    store: TrustStore = field(default_factory=TrustStore)
    pinned: str | None = None
    key: dict[str, Any] | None = None
    _newest: str = ""

    def _accept(self, doc: dict[str, Any]) -> None:
        assert self.pinned is not None
        found, signer = bundle.load(doc, pinned=self.pinned)
        self.store = self.store.merged(found)
        generated = str(doc.get("generated_at", ""))
        if signer != self.pinned and generated >= self._newest:
            self.key, self._newest = dict(doc["key"]), generated


def load_files(paths: list[Path], *, pinned: str | None) -> OfflineTrust:
    """One store trusting every file's keys (``TrustFileError`` names the bad file).
    Every bundle is checked against ``pinned`` (or a key it endorsed)."""
    out = OfflineTrust(pinned=pinned)
    for path in paths:
        try:
            with path.open("rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
            material = read_material(data)
            if material.kind == "bundle":
                if pinned is None:
                    raise TrustFileError("a trust bundle needs --trust-key (its key's thumbprint)")
                assert material.document is not None
                out._accept(material.document)
                continue
            for cert in material.dscs:
                out.store.add_dsc(cert)
            for key in material.shc_keys:
                out.store.add_shc(key)
        except OSError as exc:
            raise TrustFileError(f"{path}: {exc.strerror}") from None
        except TrustFileError as exc:
            raise TrustFileError(f"{path}: {exc}") from None
    return out


def move_pin(path: Path, key: dict[str, Any]) -> None:
    """Replace the pinned key's file with ``key`` (a public JWK), atomically."""
    public = {k: key[k] for k in ("kty", "crv", "x", "y", "kid", "alg", "use") if k in key}
    temporary = path.with_name(path.name + ".new")
    temporary.write_text(json.dumps(public, indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, path)
