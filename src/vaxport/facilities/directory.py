"""The public directory, served from the cache with entity tags.

Answers are cached per tenant *generation*: a random token kept in the cache and replaced
after every committed write, so one cache write makes every cached page of the tenant
unreachable (they then expire on their own). A reader that started before a write can
only store its answer under the old generation, never a stale answer under the new one.
Across processes without a shared cache (no Redis), a page can be stale for at most the
cache time; with Redis, for at most ``NEAR_GENERATION_SECONDS`` after the write's
transaction commits (each process re-reads the generation that often), and not at all
in the process that wrote.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from vaxport.core.cache import Cache
from vaxport.core.ids import short_code

# Answers are named by (tenant, generation, query), so each process also keeps the most
# used ones decoded (for no longer than the shared cache would) and then only asks the
# shared cache for the generation.
_MEMO_SIZE = 512
_memo: OrderedDict[str, tuple[float, Document]] = OrderedDict()
GENERATION_NS = "facility-gen"
DIRECTORY_NS = "facility-dir"
# A generation only has to outlive the pages cached under it.
GENERATION_SECONDS = 24 * 3600.0
# Each process reuses the generation it read this long before asking the shared cache
# again: a write elsewhere reaches this process's answers within it.
NEAR_GENERATION_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class Document:
    """A serialised public answer and its strong entity tag."""

    etag: str
    body: bytes


async def generation(cache: Cache, tenant_id: uuid.UUID) -> str:
    """The tenant's current directory generation (a new one if the cache lost it)."""
    key = str(tenant_id)

    async def load() -> str:
        current = await cache.get(GENERATION_NS, key)
        if isinstance(current, str):
            return current
        fresh = short_code(12)
        await cache.set(GENERATION_NS, key, fresh, GENERATION_SECONDS)
        return fresh

    found: str = await cache.near_load(GENERATION_NS, key, load, NEAR_GENERATION_SECONDS)
    return found


async def invalidate(cache: Cache, tenant_id: uuid.UUID) -> None:
    """Make every cached directory answer of the tenant unreachable."""
    fresh = short_code(12)
    await cache.set(GENERATION_NS, str(tenant_id), fresh, GENERATION_SECONDS)
    cache.near_put(GENERATION_NS, str(tenant_id), fresh, NEAR_GENERATION_SECONDS)
    cache.changed()  # kept public answers of this process (core/http/answers.py) go too


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
    memo = _memo.get(cache_key) if ttl > 0 else None
    if memo is not None and memo[0] > time.monotonic():
        _memo.move_to_end(cache_key)
        return memo[1]
    hit = await cache.get(DIRECTORY_NS, cache_key) if ttl > 0 else None
    if isinstance(hit, dict) and isinstance(hit.get("body"), str):
        doc = Document(etag=str(hit["etag"]), body=hit["body"].encode())
        # Kept here only as long as the shared entry lives, which another process made.
        left = float(hit.get("expires", 0)) - time.time()
    else:
        model = await build()
        body = orjson.dumps(model.model_dump(mode="json"))
        doc = Document(etag=_etag(body), body=body)
        left = ttl
        if ttl > 0:
            value = {"etag": doc.etag, "body": body.decode(), "expires": time.time() + ttl}
            await cache.set(DIRECTORY_NS, cache_key, value, ttl)
    if left > 0:
        _remember(cache_key, doc, min(left, ttl))
    return doc


def _remember(key: str, doc: Document, seconds: float) -> None:
    _memo[key] = (time.monotonic() + seconds, doc)
    _memo.move_to_end(key)
    while len(_memo) > _MEMO_SIZE:
        _memo.popitem(last=False)
