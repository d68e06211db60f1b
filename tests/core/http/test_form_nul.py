"""A URL-encoded form holding a NUL is refused while it is read, naming its field, however
the body is cut into chunks (a ``%00`` split between two, a long value before it)."""

from __future__ import annotations

import pytest
from starlette.types import Message

from vaxport.core.http.middleware import FormNul, form_nul_guard

FORM = [(b"content-type", b"application/x-www-form-urlencoded; charset=utf-8")]


async def _read(chunks: list[bytes], headers: list[tuple[bytes, bytes]] = FORM) -> bytes:
    pending = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.request", "body": b""}

    guarded = form_nul_guard({"method": "POST", "headers": headers}, receive)
    got = b""
    for _ in chunks:
        got += (await guarded())["body"]
    return got


@pytest.mark.parametrize(
    "chunks",
    [
        [b"csrf_token=t&display_name=a%00b"],
        [b"csrf_token=t&display_name=a%0", b"0b"],
        [b"csrf_token=t&display_name=a%", b"00b"],
        [b"csrf_token=t&display_", b"name=", b"x" * 5000, b"%00"],
        [b"csrf_token=t&display_name=a\x00b"],
        [b"csrf_token=t&display%5Fname=a+%00"],
    ],
    ids=["whole", "split-00", "split-%", "long-value", "raw", "encoded-name"],
)
async def test_a_nul_anywhere_in_a_form_names_its_field(chunks: list[bytes]) -> None:
    with pytest.raises(FormNul) as caught:
        await _read(chunks)
    assert caught.value.status == 422
    assert [e["field"] for e in caught.value.errors] == ["display_name"]


async def test_a_form_without_a_nul_and_other_bodies_pass_untouched() -> None:
    assert await _read([b"a=1&b=%01%0", b"1"]) == b"a=1&b=%01%01"
    json = [(b"content-type", b"application/json")]
    assert await _read([b'{"a": "%00"}'], json) == b'{"a": "%00"}'
    upload = [(b"content-type", b"multipart/form-data; boundary=x")]
    assert await _read([b"\x00\x01"], upload) == b"\x00\x01"
