"""Sender addresses of outgoing mail (``Name <addr>``), checked by the one contact rule.

Phone numbers and e-mail addresses themselves are normalised in :mod:`vaxport.core.contacts`.
"""

from __future__ import annotations

from email.utils import parseaddr

from vaxport.core.contacts import normalise_email


def parse_sender(value: str) -> tuple[str, str]:
    """A From:/Reply-To: value (``Name <addr>`` or ``addr``) as (display name, address)."""
    if "\r" in value or "\n" in value:
        raise ValueError("sender must be one line")
    name, addr = parseaddr(value)
    if not addr:
        raise ValueError("sender must be an address like 'Vaxport <no-reply@example.org>'")
    try:
        checked = normalise_email(addr, field="sender")
    except Exception as exc:
        raise ValueError("sender address is not a valid e-mail address") from exc
    return name, checked
