"""Reading a configuration document before (or despite) its schema validation.

Cross-object checks run on the raw YAML data so that they report beside the schema's
errors: they read it defensively, skipping whatever is not the expected shape (the
schema reports that on its own).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def items_at(raw: Any, *keys: str) -> list[tuple[int, dict[str, Any]]]:
    """``(index, item)`` of the mappings in the list at ``raw[key][key]...`` (else none)."""
    node = raw
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, list):
        return []
    return [(i, item) for i, item in enumerate(node) if isinstance(item, dict)]


def duplicate_values(
    items: list[tuple[int, dict[str, Any]]], key: str, where: str, what: str
) -> Iterator[tuple[str, str]]:
    """A ``(path, reason)`` for every item whose text ``key`` an earlier item already has."""
    first: dict[str, int] = {}
    for i, item in items:
        value = item.get(key)
        if not isinstance(value, str):
            continue
        if value in first:
            yield (
                f"{where}.{i}.{key}",
                f"duplicate {what} {value!r} (first at {where}.{first[value]})",
            )
        else:
            first[value] = i
