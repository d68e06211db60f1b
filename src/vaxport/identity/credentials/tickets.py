"""Login tickets: proof that the first factor passed, carried to the second step.

Stateless and short-lived (``TTL_SECONDS``): ``base64url(json).base64url(hmac)``, bound to
the account, its tenant, its token version (a reset or disable voids it) and the step it
opens (``totp`` or ``enrol``). A ticket alone never logs anyone in.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Literal

import orjson

from vaxport.core import clock
from vaxport.identity.credentials.secrets import mac
from vaxport.settings import Settings

TTL_SECONDS = 300
Stage = Literal["totp", "enrol"]


@dataclass(frozen=True, slots=True)
class Ticket:
    """A verified ticket's content."""

    account_id: uuid.UUID
    tenant_id: uuid.UUID
    stage: Stage
    token_version: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(
    settings: Settings,
    *,
    account_id: uuid.UUID,
    tenant_id: uuid.UUID,
    stage: Stage,
    token_version: int,
) -> str:
    """A signed ticket for the next login step."""
    payload = orjson.dumps(
        {
            "a": str(account_id),
            "t": str(tenant_id),
            "s": stage,
            "v": token_version,
            "e": int(clock.utcnow().timestamp()) + TTL_SECONDS,
            "n": secrets.token_hex(8),
        }
    )
    body = _b64(payload)
    return f"{body}.{_b64(mac(settings, 'login-ticket', body.encode()))}"


def verify(settings: Settings, ticket: str, *, tenant_id: uuid.UUID, stage: Stage) -> Ticket | None:
    """The ticket's content if it is authentic, unexpired, of this tenant and step."""
    if len(ticket) > 512 or ticket.count(".") != 1:
        return None
    body, sig = ticket.split(".")
    try:
        given = _unb64(sig)
    except (ValueError, binascii.Error):
        return None
    if not hmac.compare_digest(given, mac(settings, "login-ticket", body.encode())):
        return None
    try:
        data = orjson.loads(_unb64(body))
        found = Ticket(
            account_id=uuid.UUID(data["a"]),
            tenant_id=uuid.UUID(data["t"]),
            stage=data["s"],
            token_version=int(data["v"]),
        )
        expires = int(data["e"])
    except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError):
        return None
    fits = found.tenant_id == tenant_id and found.stage == stage
    return found if fits and expires >= int(clock.utcnow().timestamp()) else None
