"""Keys derived from ``VAXPORT_SECRET_KEY`` for identity's own MACs.

Each use gets its own subkey (HMAC-SHA256 of the secret and a label), so a value made
for one purpose never verifies for another. Outside production an unset secret is
replaced by a random one per process (production refuses to start without a real one):
a development server with several worker processes needs ``VAXPORT_SECRET_KEY`` set.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os

from vaxport.core.logging import get_logger
from vaxport.settings import Settings

log = get_logger(__name__)


@functools.cache
def _process_secret() -> bytes:
    log.warning("identity.secret_key_unset", detail="using a per-process random secret")
    return os.urandom(32)


def subkey(settings: Settings, label: str) -> bytes:
    """The 256-bit key for ``label`` (e.g. ``"login-ticket"``)."""
    secret = settings.secret_key.get_secret_value().encode()
    if not secret:
        secret = _process_secret()
    return hmac.new(secret, b"vaxport.identity\x00" + label.encode(), hashlib.sha256).digest()


def mac(settings: Settings, label: str, data: bytes) -> bytes:
    """HMAC-SHA256 of ``data`` under the subkey for ``label``."""
    return hmac.new(subkey(settings, label), data, hashlib.sha256).digest()
