"""Small SQL helpers of the identity services."""

from __future__ import annotations

from typing import Any


def affected(result: Any) -> int:
    """Rows an UPDATE/DELETE changed (compare-and-set outcomes)."""
    return int(getattr(result, "rowcount", 0) or 0)
