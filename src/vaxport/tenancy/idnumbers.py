"""Normalising and checking ID document numbers against a tenant's ID type rules."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from vaxport.core.i18n import N_
from vaxport.tenancy.checksums import CHECKS

if TYPE_CHECKING:
    from vaxport.tenancy.config import IdDocumentType

# Longer input is refused before any regex runs, bounding the work per request.
MAX_ID_LENGTH = 64

_STRIP = {
    "strip-spaces": str.maketrans("", "", " \t\u00a0"),
    "strip-dashes": str.maketrans("", "", "-\u2010\u2011\u2012\u2013\u2014"),
    "strip-dots": str.maketrans("", "", "."),
    "strip-slashes": str.maketrans("", "", "/"),
    "strip-plus-signs": str.maketrans("", "", "+"),
}


@lru_cache(maxsize=256)
def _pattern(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def normalise(rules: list[str], value: str) -> str:
    """Apply an ID type's normaliser rules, in order, to a trimmed value."""
    out = value.strip()
    for rule in rules:
        out = out.upper() if rule == "uppercase" else out.translate(_STRIP[rule])
    return out


def check_id_number(id_type: IdDocumentType, value: str) -> tuple[str, str | None]:
    """``(normalised, None)`` when ``value`` is acceptable, else ``(normalised, reason)``.

    Reasons never repeat the number: it is personal data and may end up in logs. They are
    message ids; ``{max_length}`` is :data:`MAX_ID_LENGTH`.
    """
    if len(value) > MAX_ID_LENGTH:
        return "", N_("is longer than {max_length} characters")
    normalised = normalise(list(id_type.normalise), value)
    if not normalised:
        return normalised, N_("is empty")
    if _pattern(id_type.regex).fullmatch(normalised) is None:
        return normalised, N_("does not have the format of this document type")
    if not CHECKS[id_type.checksum](normalised):
        return normalised, N_("has a wrong check digit (a typing mistake?)")
    return normalised, None
