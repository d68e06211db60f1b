"""One cache interface: Redis when ``VAXPORT_REDIS_URL`` is set, in-process otherwise.

Values are JSON (orjson). The cache is disposable state: when Redis is unreachable a read
is a miss and a write is dropped (logged), so the database stays the source of truth.
Hits and misses are counted per namespace for ``/metrics``.

What nearly every request reads (a tenant, an account's state, the directory's
generation) is also kept *near*: parsed, in this process, for at most ``NEAR_SECONDS``
(:meth:`Cache.near_get` / :meth:`Cache.near_put`). A Redis round trip costs more than the
rest of a cheap request; a near entry costs a dictionary lookup. ``set`` and ``delete``
drop the key's near entry, so a change is felt at once in the process that made it and
within ``NEAR_SECONDS`` in every other one (their entries expire; nothing is pushed).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson

from vaxport.core.logging import get_logger
from vaxport.core.metrics import CACHE_HITS, CACHE_MISSES

log = get_logger(__name__)

# How long a process answers from its near entries before asking the shared cache again:
# the staleness bound other replicas see after a change (docs/identity.md).
NEAR_SECONDS = 1.0
_NEAR_MAX = 20_000


class Backend(Protocol):
    """Raw byte storage with expiry."""

    async def get(self, key: str) -> bytes | None: ...
    async def set(self, key: str, value: bytes, ttl: float) -> None: ...
    async def delete(self, *keys: str) -> None: ...
    async def ping(self) -> bool: ...
    async def close(self) -> None: ...


class MemoryBackend:
    """A bounded LRU with per-key expiry, local to this process."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max = max_entries

    async def get(self, key: str) -> bytes | None:
        item = self._data.get(key)
        if item is None:
            return None
        expires, value = item
        if expires < time.monotonic():
            self._data.pop(key, None)
            return None
        self._data.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        self._data[key] = (time.monotonic() + ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._data.pop(key, None)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._data.clear()


class RedisBackend:
    """Redis storage (redis-py asyncio) shared by every replica."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self.client = aioredis.Redis.from_url(
            url, socket_timeout=2.0, socket_connect_timeout=2.0, health_check_interval=30
        )

    async def get(self, key: str) -> bytes | None:
        value = await self.client.get(key)
        return value if value is None or isinstance(value, bytes) else str(value).encode()

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self.client.set(key, value, px=max(1, int(ttl * 1000)))

    async def delete(self, *keys: str) -> None:
        if keys:
            await self.client.delete(*keys)

    async def ping(self) -> bool:
        return bool(await self.client.ping())

    async def close(self) -> None:
        await self.client.aclose()


class Cache:
    """JSON values under ``namespace:key`` with a time to live."""

    def __init__(
        self,
        backend: Backend,
        *,
        prefix: str = "vaxport",
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.prefix = prefix
        # Near entries: full key -> (expires at, parsed value); see the module docstring.
        self._near: dict[str, tuple[float, Any]] = {}
        self._monotonic = monotonic
        # Loads in flight, by full key: concurrent misses of one key share one load.
        self._loading: dict[str, asyncio.Future[Any]] = {}
        # Bumped by every invalidation this process makes (``changed``, ``delete``): what
        # was derived from the cache before it (kept public answers) is dropped.
        self.changes = 0

    def changed(self) -> None:
        """Something public changed here: drop what this process derived from the cache."""
        self.changes += 1

    def _key(self, namespace: str, key: str) -> str:
        return f"{self.prefix}:{namespace}:{key}"

    def near_get(self, namespace: str, key: str) -> Any | None:
        """The value this process noted for ``key`` less than its time ago (None: ask)."""
        full = self._key(namespace, key)
        hit = self._near.get(full)
        if hit is None:
            return None
        if hit[0] <= self._monotonic():
            self._near.pop(full, None)
            return None
        return hit[1]

    def near_put(self, namespace: str, key: str, value: Any, seconds: float = NEAR_SECONDS) -> None:
        """Note ``value`` (parsed, never mutated afterwards) for ``key`` for ``seconds``."""
        near = self._near
        if len(near) >= _NEAR_MAX:
            now = self._monotonic()
            for stale in [k for k, (expires, _) in near.items() if expires <= now]:
                del near[stale]
            while len(near) >= _NEAR_MAX:  # all live: drop the oldest notes
                del near[next(iter(near))]
        near[self._key(namespace, key)] = (self._monotonic() + min(seconds, NEAR_SECONDS), value)

    async def near_load(
        self,
        namespace: str,
        key: str,
        load: Callable[[], Awaitable[Any]],
        seconds: float = NEAR_SECONDS,
    ) -> Any:
        """The near value of ``key``, else ``load()``'s result, noted for ``seconds``.

        When a near entry lapses under load, the requests in flight would each ask the
        shared cache for it; they wait for the first one's answer instead. ``None`` is
        not noted (load it again next time).
        """
        hit = self.near_get(namespace, key)
        if hit is not None:
            return hit
        full = self._key(namespace, key)
        pending = self._loading.get(full)
        if pending is not None:
            try:
                return await asyncio.shield(pending)
            except Exception:  # noqa: BLE001, S110 - the first loader's failure: try ourselves
                pass
            return await load()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._loading[full] = future
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
            future.exception()  # retrieved: waiters load on their own
            raise
        finally:
            if self._loading.get(full) is future:
                del self._loading[full]
        if value is not None:
            self.near_put(namespace, key, value, seconds)
        future.set_result(value)
        return value

    async def get(self, namespace: str, key: str) -> Any | None:
        """The cached value, or ``None`` on a miss (or when the backend is down)."""
        try:
            raw = await self.backend.get(self._key(namespace, key))
        except Exception as exc:  # noqa: BLE001 - a cache outage must degrade to a miss
            log.warning("cache.get_failed", namespace=namespace, error=type(exc).__name__)
            raw = None
        if raw is None:
            CACHE_MISSES.labels(namespace).inc()
            return None
        CACHE_HITS.labels(namespace).inc()
        return orjson.loads(raw)

    async def set(self, namespace: str, key: str, value: Any, ttl: float) -> None:
        """Store ``value`` (JSON-serialisable) for ``ttl`` seconds."""
        self._near.pop(self._key(namespace, key), None)
        try:
            await self.backend.set(self._key(namespace, key), orjson.dumps(value), ttl)
        except Exception as exc:  # noqa: BLE001 - see get()
            log.warning("cache.set_failed", namespace=namespace, error=type(exc).__name__)

    async def delete(self, namespace: str, *keys: str) -> None:
        """Invalidate keys (after the write that made them stale has committed)."""
        self.changes += 1
        for k in keys:
            self._near.pop(self._key(namespace, k), None)
        try:
            await self.backend.delete(*(self._key(namespace, k) for k in keys))
        except Exception as exc:  # noqa: BLE001 - see get()
            log.warning("cache.delete_failed", namespace=namespace, error=type(exc).__name__)

    async def get_or_load(
        self, namespace: str, key: str, loader: Callable[[], Awaitable[Any]], ttl: float
    ) -> Any:
        """The cached value, or ``loader()``'s result, stored for ``ttl`` seconds."""
        value = await self.get(namespace, key)
        if value is None:
            value = await loader()
            if value is not None:
                await self.set(namespace, key, value, ttl)
        return value

    async def ping(self) -> bool:
        """True when the backend answers."""
        try:
            return await self.backend.ping()
        except Exception:  # noqa: BLE001 - readiness reports, it does not raise
            return False

    async def close(self) -> None:
        """Release connections."""
        self._near.clear()
        await self.backend.close()


def cache_from_url(url: str, *, prefix: str = "vaxport") -> Cache:
    """Redis when ``url`` is given, the in-process LRU otherwise."""
    return Cache(RedisBackend(url) if url else MemoryBackend(), prefix=prefix)
