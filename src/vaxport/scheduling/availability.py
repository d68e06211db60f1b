"""What the public search may still serve: one token per tenant that any seat change replaces.

Every cached search answer is stored under a key that includes the tenant's current
availability token; a write that changes seats (publishing, closing or cancelling a
session, a booking, a cancellation, an expired hold) calls :func:`slots_changed` after
its commit, which stores a new random token. Answers under the old token are never read
again and lapse with their TTL. A random token (not a counter) needs no read-modify-write,
so concurrent writers cannot lose each other's change.

The token itself is read through the cache's near tier, so a process serving a burst of
searches asks the shared cache for it at most once per near period: the bound on how
stale a search can be is the near period plus the shared answer's TTL (see
``scheduling/search.py``).
"""

from __future__ import annotations

import secrets
import uuid

from vaxport.core.cache import Cache

NAMESPACE = "slots-token"
# Long enough to outlive every answer stored under it; a lapsed token is simply remade.
_TOKEN_TTL = 24 * 3600.0


async def slots_changed(cache: Cache, tenant_id: uuid.UUID) -> None:
    """Seats of ``tenant_id`` changed (call after commit): cached searches go stale now."""
    cache.changed()
    await cache.set(NAMESPACE, str(tenant_id), secrets.token_hex(8), _TOKEN_TTL)


async def current_token(cache: Cache, tenant_id: uuid.UUID) -> str:
    """The tenant's availability token (made on first use), via the near tier."""

    async def load() -> str:
        token = await cache.get(NAMESPACE, str(tenant_id))
        if isinstance(token, str):
            return token
        token = secrets.token_hex(8)
        await cache.set(NAMESPACE, str(tenant_id), token, _TOKEN_TTL)
        return token

    value = await cache.near_load(NAMESPACE, str(tenant_id), load)
    return str(value)
