"""What identity asks of contexts above it, as ports the composition root fills.

Identity sits below notifications, facilities and registration, so it never imports
them: ``wiring.py`` builds an :class:`IdentityPorts` from their functions and installs
it when the app, the CLI or the worker starts (never on import). Tests install their
own (a stand-in facility resolver, say) through the app's parts.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from vaxport.core.db import Database, UnitOfWork


class SendCode(Protocol):
    """Queue a one-time code to a destination in the caller's transaction (its id)."""

    async def __call__(
        self,
        uow: UnitOfWork,
        *,
        tenant_id: uuid.UUID,
        destination: str,
        kind: Literal["sms", "email"],
        code: str,
        locale: str | None,
        minutes: int,
    ) -> uuid.UUID: ...


class SendRecoveryNotice(Protocol):
    """Queue the notice of an account recovery (with its undo) in the caller's transaction."""

    async def __call__(
        self,
        uow: UnitOfWork,
        *,
        tenant_id: uuid.UUID,
        destination: str,
        kind: Literal["sms", "email"],
        undo_url: str,
        undo_code: str,
        hold_hours: int,
        locale: str | None,
        recovery_id: uuid.UUID,
    ) -> uuid.UUID: ...


class SendInvitation(Protocol):
    """Queue a staff member's activation link to their e-mail in the caller's transaction."""

    async def __call__(
        self,
        uow: UnitOfWork,
        *,
        tenant_id: uuid.UUID,
        destination: str,
        activation_url: str,
        username: str,
        expires_at: dt.datetime,
        reset: bool,
        account_id: uuid.UUID,
    ) -> uuid.UUID: ...


class MemberLookup(Protocol):
    """Whether an active member of the account has this ID document and birth date."""

    async def __call__(
        self,
        db: Database,
        *,
        tenant_id: uuid.UUID,
        account_id: uuid.UUID,
        id_type: str,
        id_number: str,
        birth_date: dt.date,
    ) -> bool: ...


# (database, tenant id, facility id) -> the facility's region (None: no such facility).
FacilityRegion = Callable[[Database, uuid.UUID, uuid.UUID], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class IdentityPorts:
    """The other contexts' answers identity needs; ``facility_region`` None: unchecked."""

    send_code: SendCode
    member_lookup: MemberLookup
    facility_region: FacilityRegion | None = None
    # Required where citizens can recover accounts: a recovery without it is refused.
    send_recovery_notice: SendRecoveryNotice | None = None
    # E-mails invitations and sign-in resets to a staff member with an address (the
    # admin sees the link either way, so a process without it still works).
    send_invitation: SendInvitation | None = None


_installed: IdentityPorts | None = None


def install_ports(ports: IdentityPorts | None) -> None:
    """Make ``ports`` the ones identity uses (the composition root, at start-up)."""
    global _installed  # noqa: PLW0603 - one slot, filled by the composition root
    _installed = ports


def installed_ports() -> IdentityPorts | None:
    """The installed ports, or None (a test or tool that did not wire the process)."""
    return _installed


def ports() -> IdentityPorts:
    """The installed ports; RuntimeError when the process was not wired."""
    if _installed is None:
        raise RuntimeError("identity's ports are not installed: build the process with wiring")
    return _installed
