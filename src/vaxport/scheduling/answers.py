"""Public answers of scheduling (search, calendar, feed) as serialised bytes, in two tiers.

An answer is stored under its query *and* the tenant's availability token
(``availability.current_token``): a seat change calls ``slots_changed`` after its commit,
which replaces the token, so every answer built before it becomes unreachable at once.

* **Shared tier**: the cache (Redis, or the in-process LRU on the embedded default) keeps
  the serialised body and its entity tag for at most :data:`SHARED_SECONDS` (a random
  life between half and all of it, so answers built together expire apart), so one
  process builds an answer and every other one serves it.
* **Near tier**: each process keeps the bytes it built or read for at most
  :data:`NEAR_SECONDS` in the cache's near entries (``Cache.near_load``: concurrent misses
  of one key wait for a single load), so a repeated query costs neither a Redis round trip
  nor a database query. The token itself is near-cached too (``NEAR_SECONDS`` of core's
  cache, 1 s).

Before a route runs at all, ``core/http/answers.py`` may answer a repeated anonymous GET
from the same process's kept answers (``keep_answer``, 0.5 s, dropped by this process's own
``slots_changed``). Staleness, worst case, for a process other than the writer's:

* after a seat change: the token's near period (1 s) + a kept answer (0.5 s) = **1.5 s**;
* whatever happens (even a lost invalidation, or time passing a slot's start): the shared
  answer's life (1.5 s) + its near copy (0.5 s) + a kept answer (0.5 s) = **2.5 s**;

plus, for a client behind an HTTP cache, ``Cache-Control: max-age`` (:data:`MAX_AGE`, 2 s).
So what anybody is shown is never more than 5 s old (docs/scheduling.md). The feed keys
its answers by a time bucket instead of the token (see ``feed.py``).
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from vaxport.core.cache import Cache
from vaxport.scheduling.availability import current_token

NAMESPACE = "slots-answer"
SHARED_SECONDS = 1.5
NEAR_SECONDS = 0.5
# What public clients and HTTP caches may reuse an answer for.
MAX_AGE = 2


@dataclass(frozen=True, slots=True)
class Answer:
    """A serialised public answer and its strong entity tag."""

    etag: str
    body: bytes


def etag_of(body: bytes) -> str:
    """A strong entity tag naming ``body``."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _name(tenant_id: uuid.UUID, token: str, key: dict[str, Any]) -> str:
    digest = hashlib.sha256(orjson.dumps(key, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
    return f"{tenant_id}:{token}:{digest}"


async def cached_answer(
    *,
    cache: Cache,
    tenant_id: uuid.UUID,
    key: dict[str, Any],
    build: Callable[[], Awaitable[bytes]],
    shared_seconds: float = SHARED_SECONDS,
    token: str | None = None,
) -> Answer:
    """The answer for ``key``: near copy, else shared copy, else ``build()`` (then shared).

    ``token`` names the generation of data the answer belongs to; by default the
    tenant's availability token. A shared copy older than ``shared_seconds`` is never
    served, whichever process made it.
    """
    generation = token if token is not None else await current_token(cache, tenant_id)
    name = _name(tenant_id, generation, key)

    async def load() -> Answer:
        hit = await cache.get(NAMESPACE, name)
        if (
            isinstance(hit, dict)
            and isinstance(hit.get("body"), str)
            and isinstance(hit.get("etag"), str)
            and isinstance(hit.get("until"), float)
            and time.time() < hit["until"] <= time.time() + shared_seconds
        ):
            return Answer(etag=hit["etag"], body=hit["body"].encode())
        body = await build()
        answer = Answer(etag=etag_of(body), body=body)
        # Lives of one to two halves of the bound, at random: answers built together (a
        # cold start, a burst of seat changes) are not all rebuilt together again.
        life = shared_seconds * (1 - random.random() / 2)  # noqa: S311 - not a secret
        value = {"etag": answer.etag, "body": body.decode(), "until": time.time() + life}
        await cache.set(NAMESPACE, name, value, life)
        return answer

    found: Answer = await cache.near_load(NAMESPACE, name, load, min(NEAR_SECONDS, shared_seconds))
    return found
