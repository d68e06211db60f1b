"""Public answers kept in the process for a fraction of a second, and when they are not."""

from __future__ import annotations

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from vaxport.core.cache import Cache, MemoryBackend
from vaxport.core.http.answers import AnswerMemoMiddleware, keep_answer


class Origin:
    """An app that counts the requests reaching it and answers what it is told."""

    def __init__(
        self, cache_control: str = "public, max-age=60", *, keep: bool = True, **headers: str
    ) -> None:
        self.calls = 0
        self.keep = keep
        self.headers = {"Cache-Control": cache_control, "ETag": '"v1"', **headers}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        if self.keep:
            keep_answer(Request(scope))
        body = f"answer {self.calls}".encode()
        await Response(body, media_type="application/json", headers=self.headers)(
            scope, receive, send
        )


def client(app: AnswerMemoMiddleware) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.fixture
def cache() -> Cache:
    return Cache(MemoryBackend())


async def test_a_public_answer_is_served_again_from_memory_with_its_tag(cache: Cache) -> None:
    origin = Origin()
    async with client(AnswerMemoMiddleware(origin, cache=cache)) as c:
        first = await c.get("/api/v1/demo/config?x=1")
        again = await c.get("/api/v1/demo/config?x=1")
        other_query = await c.get("/api/v1/demo/config?x=2")
        not_modified = await c.get("/api/v1/demo/config?x=1", headers={"If-None-Match": '"v1"'})
    assert first.text == again.text == "answer 1"
    assert again.headers["etag"] == '"v1"'
    assert other_query.text == "answer 2"
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert origin.calls == 2


async def test_a_change_in_this_process_drops_every_kept_answer(cache: Cache) -> None:
    origin = Origin()
    async with client(AnswerMemoMiddleware(origin, cache=cache)) as c:
        await c.get("/api/v1/demo/facilities")
        cache.changed()
        assert (await c.get("/api/v1/demo/facilities")).text == "answer 2"
        await cache.delete("any", "key")  # an invalidation of the shared cache, likewise
        assert (await c.get("/api/v1/demo/facilities")).text == "answer 3"


async def test_answers_live_no_longer_than_the_bound(cache: Cache) -> None:
    origin = Origin()
    async with client(AnswerMemoMiddleware(origin, cache=cache, seconds=0)) as c:
        await c.get("/api/v1/demo/config")
        assert (await c.get("/api/v1/demo/config")).text == "answer 2"


@pytest.mark.parametrize(
    ("origin", "headers"),
    [
        (Origin(), {"Authorization": "Bearer x"}),
        (Origin(), {"Cookie": "vaxport_session=x"}),
        (Origin(cache_control="no-store"), {}),
        (Origin(cache_control="private, max-age=60"), {}),
        (Origin(Vary="Authorization"), {}),
        (Origin(**{"Set-Cookie": "a=b"}), {}),
        (Origin(keep=False), {}),
    ],
    ids=["bearer", "cookie", "no-store", "private", "vary", "set-cookie", "route-did-not-ask"],
)
async def test_answers_to_callers_or_not_public_are_never_kept(
    cache: Cache, origin: Origin, headers: dict[str, str]
) -> None:
    async with client(AnswerMemoMiddleware(origin, cache=cache)) as c:
        await c.get("/api/v1/demo/me", headers=headers)
        await c.get("/api/v1/demo/me", headers=headers)
    assert origin.calls == 2


async def test_the_language_asked_for_is_part_of_the_key(cache: Cache) -> None:
    origin = Origin(Vary="Accept-Language")
    async with client(AnswerMemoMiddleware(origin, cache=cache)) as c:
        fr = await c.get("/api/v1/demo/config", headers={"Accept-Language": "fr"})
        en = await c.get("/api/v1/demo/config", headers={"Accept-Language": "en"})
        fr_again = await c.get("/api/v1/demo/config", headers={"Accept-Language": "fr"})
    assert (fr.text, en.text, fr_again.text) == ("answer 1", "answer 2", "answer 1")
