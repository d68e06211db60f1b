"""JSON request bodies parsed within a nesting limit checked before the parser runs.

``json.loads`` recurses once per level: ``[`` * 100,000 raised RecursionError (a 500 with
tracebacks, before authentication) and 5,000-deep objects exhausted the stack. No body of
ours nests beyond a handful of levels, so a scan of the brackets outside strings refuses
anything deeper than :data:`MAX_DEPTH` in linear time, before any recursion.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32
# A JSON string (escapes included), removed before counting brackets.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


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
    """``json.loads`` of ``raw`` after :func:`check_depth`."""
    check_depth(raw)
    return json.loads(raw)
