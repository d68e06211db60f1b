"""JSON request bodies parsed within a nesting limit checked before the parser runs.

``json.loads`` recurses once per level: ``[`` * 100,000 raised RecursionError (a 500 with
tracebacks, before authentication) and 5,000-deep objects exhausted the stack. No body of
ours nests beyond a handful of levels, so a scan of the brackets outside strings refuses
anything deeper than :data:`MAX_DEPTH` in linear time, before any recursion. An object
naming a key twice and a string holding a NUL are refused too (:class:`BodyError`: a
422 naming the field, never a 500 from the database or the audit log).
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from vaxport.core.errors import PayloadTooLarge, ValidationFailed, from_validation

M = TypeVar("M", bound=BaseModel)

MAX_DEPTH = 32
# A JSON string (escapes included), removed before counting brackets.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


class BodyError(ValueError):
    """A body that parses but that no route of ours takes, at a field."""

    kind = "json_invalid"

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc

    def problem(self) -> ValidationFailed:
        """The 422 naming the field, for routes that parse their body themselves."""
        return ValidationFailed(errors=from_validation([self.error()]))

    def error(self) -> dict[str, Any]:
        """As a pydantic-style validation error (its type names the message)."""
        return {"type": self.kind, "loc": ("body", *self.loc), "msg": str(self)}


class DuplicateKeyError(BodyError):
    """An object of the body names the same key twice."""

    kind = "json_duplicate_key"

    def __init__(self, key: str) -> None:
        super().__init__((key,), f"key {key!r} appears twice in one object")


class NulError(BodyError):
    """A string of the body holds a NUL character (PostgreSQL text cannot store one, and
    no field of ours means one)."""

    kind = "string_nul"


def _nul_at(value: Any, loc: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    if isinstance(value, str):
        return loc if "\x00" in value else None
    items: Any = ()
    if isinstance(value, dict):
        for key in value:
            if "\x00" in key:
                return (*loc, key)
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    for key, item in items:
        found = _nul_at(item, (*loc, key))
        if found is not None:
            return found
    return None


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # ``json.loads`` keeps the last of repeated keys silently, while a proxy or another
    # parser in front of us may act on the first: refuse rather than guess.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(key)
            seen.add(key)
    return obj


class TooDeepError(ValueError):
    """The body nests deeper than :data:`MAX_DEPTH`."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"JSON nests deeper than {limit} levels")


def check_depth(raw: bytes, limit: int = MAX_DEPTH) -> None:
    """Raise :class:`TooDeepError` when ``raw`` nests arrays/objects deeper than ``limit``.

    Unbalanced or malformed text is left to the parser, which reports it as invalid JSON.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return  # the common small body: cannot be too deep
    depth = 0
    for match in _BRACKETS.finditer(_STRING.sub(b'""', raw)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                raise TooDeepError(limit)
        else:
            depth -= 1


def loads(raw: bytes) -> Any:
    """``json.loads`` of ``raw`` after :func:`check_depth`; a :class:`BodyError` for an
    object naming a key twice or a NUL in a string."""
    check_depth(raw)
    doc = json.loads(raw, object_pairs_hook=_unique)
    # JSON text carries a NUL only escaped (a raw control character is invalid JSON), so
    # the common body is cleared by one scan of its bytes.
    if b"\\u0000" in raw:
        loc = _nul_at(doc)
        if loc is not None:
            raise NulError(loc, "a string holds a NUL character")
    return doc


def validated(raw: bytes, model: type[M]) -> M:
    """``raw`` as ``model`` for a route that reads its body itself: text that is not JSON,
    nests too deep, names a key twice or holds a NUL, and a document the model refuses,
    are each the 422 a declared body gets, naming the field (``body`` for the whole)."""
    try:
        doc = loads(raw)
    except BodyError as exc:
        raise exc.problem() from None
    except TooDeepError as exc:
        error = {
            "type": "json_too_deep",
            "loc": ("body",),
            "msg": str(exc),
            "ctx": {"limit": MAX_DEPTH},
        }
        raise ValidationFailed(errors=from_validation([error])) from None
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are both
        error = {"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error"}
        raise ValidationFailed(errors=from_validation([error])) from None
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        raise ValidationFailed(errors=from_validation(exc.errors())) from None


async def read_capped(request: Request, limit: int) -> bytes:
    """The body of a route that sets its own cap (declared an upload, so the middleware's
    ordinary JSON cap does not apply first): 413 beyond ``limit`` bytes, checked on the
    declared length before reading and on the bytes as they arrive."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body exceeds {limit} bytes", limit_bytes=limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes", limit_bytes=limit)
        chunks.append(chunk)
    return b"".join(chunks)
