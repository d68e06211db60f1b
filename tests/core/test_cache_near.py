"""The cache's near entries: what a process keeps in memory, for how long, and when not."""

from __future__ import annotations

import asyncio

from vaxport.core.cache import NEAR_SECONDS, Cache


class Ticks:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def near_cache(cache: Cache, ticks: Ticks) -> Cache:
    """Another process's view of the same shared cache, on its own clock."""
    return Cache(cache.backend, prefix=cache.prefix, monotonic=ticks)


async def test_a_near_value_is_reused_until_the_bound_then_read_again(cache: Cache) -> None:
    ticks = Ticks()
    mine, other = near_cache(cache, ticks), near_cache(cache, Ticks())
    await other.set("ns", "k", {"v": 1}, 60)
    assert await mine.near_load("ns", "k", lambda: mine.get("ns", "k")) == {"v": 1}
    await other.set("ns", "k", {"v": 2}, 60)  # another process changes it
    ticks.now += NEAR_SECONDS * 0.9
    assert await mine.near_load("ns", "k", lambda: mine.get("ns", "k")) == {"v": 1}
    ticks.now += NEAR_SECONDS * 0.1
    assert await mine.near_load("ns", "k", lambda: mine.get("ns", "k")) == {"v": 2}


async def test_a_change_made_here_drops_the_near_value_at_once(cache: Cache) -> None:
    mine = near_cache(cache, Ticks())
    await mine.set("ns", "k", "old", 60)
    assert await mine.near_load("ns", "k", lambda: mine.get("ns", "k")) == "old"
    await mine.set("ns", "k", "new", 60)
    assert await mine.near_load("ns", "k", lambda: mine.get("ns", "k")) == "new"
    await mine.delete("ns", "k")
    assert await mine.near_load("ns", "k", lambda: mine.get("ns", "k")) is None


async def test_concurrent_misses_of_one_key_share_one_load(cache: Cache) -> None:
    mine = near_cache(cache, Ticks())
    loads = 0
    gate = asyncio.Event()

    async def load() -> str:
        nonlocal loads
        loads += 1
        await gate.wait()
        return "value"

    waiting = [asyncio.create_task(mine.near_load("ns", "k", load)) for _ in range(20)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiting) == ["value"] * 20
    assert loads == 1


async def test_a_failed_load_is_not_noted_and_the_waiters_load_themselves(cache: Cache) -> None:
    mine = near_cache(cache, Ticks())
    calls = 0
    gate = asyncio.Event()

    async def load() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            await gate.wait()
            raise ConnectionError("store down")
        return "second try"

    first = asyncio.create_task(mine.near_load("ns", "k", load))
    await asyncio.sleep(0)
    second = asyncio.create_task(mine.near_load("ns", "k", load))
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(first, second, return_exceptions=True)
    assert isinstance(results[0], ConnectionError)
    assert results[1] == "second try"
