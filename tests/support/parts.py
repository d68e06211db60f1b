"""The application's parts as the processes build them, for tests that need one of them."""

from __future__ import annotations

from vaxport import wiring

PARTS = wiring.build()
METADATA = PARTS.metadata
RULES = PARTS.config_rules
