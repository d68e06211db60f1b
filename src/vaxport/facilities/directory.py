"""The public directory, served from the cache with entity tags.

Answers are cached per tenant *generation*: a random token kept in the cache and replaced
after every committed write, so one cache write makes every cached page of the tenant
unreachable (they then expire on their own). A reader that started before a write can
only store its answer under the old generation, never a stale answer under the new one.
Across processes without a shared cache (no Redis), a page can be stale for at most the
cache time; with Redis, from the moment the write's transaction commits.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from vaxport.core.cache import Cache
from vaxport.core.ids import short_code

GENERATION_NS = "facility-gen"
DIRECTORY_NS = "facility-dir"
# A generation only has to outlive the pages cached under it.
GENERATION_SECONDS = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Document:
    """A serialised public answer and its strong entity tag."""

    etag: str
    body: bytes


async def generation(cache: Cache, tenant_id: uuid.UUID) -> str:
    """The tenant's current directory generation (a new one if the cache lost it)."""
    current = await cache.get(GENERATION_NS, str(tenant_id))
    if isinstance(current, str):
        return current
    fresh = short_code(12)
    await cache.set(GENERATION_NS, str(tenant_id), fresh, GENERATION_SECONDS)
    return fresh


async def invalidate(cache: Cache, tenant_id: uuid.UUID) -> None:
    """Make every cached directory answer of the tenant unreachable."""
    await cache.set(GENERATION_NS, str(tenant_id), short_code(12), GENERATION_SECONDS)


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


async def cached_document(
    *,
    cache: Cache,
    tenant_id: uuid.UUID,
    key: dict[str, Any],
    ttl: float,
    build: Callable[[], Awaitable[Any]],
) -> Document:
    """The answer for ``key`` (query parameters), built by ``build`` on a miss."""
    gen = await generation(cache, tenant_id)
    digest = hashlib.sha256(orjson.dumps(key, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
    cache_key = f"{tenant_id}:{gen}:{digest}"
    hit = await cache.get(DIRECTORY_NS, cache_key)
    if isinstance(hit, dict) and isinstance(hit.get("body"), str):
        return Document(etag=str(hit["etag"]), body=hit["body"].encode())
    model = await build()
    body = orjson.dumps(model.model_dump(mode="json"))
    doc = Document(etag=_etag(body), body=body)
    if ttl > 0:
        await cache.set(DIRECTORY_NS, cache_key, {"etag": doc.etag, "body": body.decode()}, ttl)
    return doc
