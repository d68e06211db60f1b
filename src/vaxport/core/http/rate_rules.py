"""Rate-limit rules as operators write them: ``"10/minute"``, ``"5/minute;100/hour"``.

Shared by the settings (process defaults) and the tenant configuration (overrides), so
both accept and refuse exactly the same texts. No imports from the rest of vaxport.
"""

from __future__ import annotations

from limits import RateLimitItem, parse_many

# Dimensions a class is limited by: the client address, and the signed-in account.
DIMENSIONS = ("ip", "account")
UNLIMITED = "unlimited"
# The moving window keeps one timestamp per allowed request in the window (a Redis list
# per client and limit), so the amount bounds the memory a single client can pin.
MAX_AMOUNT = 100_000
MAX_WINDOW_SECONDS = 86_400
MAX_RULES = 4


def parse_limits(text: str) -> tuple[RateLimitItem, ...]:
    """The limits in ``text``, all of which apply; ``()`` for ``""``/``"unlimited"``.

    Raises ``ValueError`` with a reason an operator can act on.
    """
    cleaned = text.strip()
    if cleaned.lower() in ("", UNLIMITED):
        return ()
    try:
        items = parse_many(cleaned)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a rate limit: write e.g. '10/minute', '5 per second', "
            "'10/minute;100/hour' or 'unlimited'"
        ) from None
    if len(items) > MAX_RULES:
        raise ValueError(f"{text!r}: at most {MAX_RULES} limits per rule")
    for item in items:
        if item.amount < 1 or item.amount > MAX_AMOUNT:
            raise ValueError(f"{text!r}: amounts must be between 1 and {MAX_AMOUNT}")
        if item.get_expiry() > MAX_WINDOW_SECONDS:
            raise ValueError(f"{text!r}: windows longer than a day are not supported")
    return tuple(items)


def check_limits(text: str) -> str:
    """``text`` unchanged if :func:`parse_limits` accepts it (a pydantic validator)."""
    parse_limits(text)
    return text
