"""Identity tables: accounts (staff and citizens), sessions, refresh tokens, recovery
codes, account recoveries, login throttling, and the installation's token signing keys.

Personal fields (name, e-mail, phone) and TOTP secrets are stored encrypted
(``core.crypto``); e-mail and phone carry blind indexes for lookups. Secrets people hold
(passwords, refresh tokens, recovery codes, invitation tokens, web session tokens) are
stored only as hashes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from vaxport.core.clock import utcnow
from vaxport.core.crypto import encrypted
from vaxport.core.db import Base, JSONDoc
from vaxport.core.ids import uuid7
from vaxport.core.principal import Principal

STATUS_INVITED = "invited"
STATUS_ACTIVE = "active"
STATUS_DISABLED = "disabled"


class Account(Base):
    """A person who logs in: staff (username, password, TOTP) or citizen (one-time codes).

    ``token_version`` is bumped by every change that must end what the account's tokens
    allow at once (disable, role or scope change, reset): each request compares it.
    """

    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "username"),
        UniqueConstraint("tenant_id", "kind", "email_bidx"),
        UniqueConstraint("tenant_id", "kind", "phone_bidx"),
        UniqueConstraint("invite_token_hash"),
        Index("ix_accounts_tenant_id_region_code", "tenant_id", "region_code"),
        Index("ix_accounts_tenant_id_facility_id", "tenant_id", "facility_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"))
    kind: Mapped[str] = mapped_column(String(16))
    # Staff only; lower-case, used to log in. Not a secret, but never logged either.
    username: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str | None] = mapped_column(String(64))
    # Points at facilities.id (that context owns the table; no FK across contexts).
    facility_id: Mapped[uuid.UUID | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default=STATUS_ACTIVE)
    display_name = encrypted("text")
    email = encrypted("email", index=True)
    phone = encrypted("phone", index=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_changed_at: Mapped[dt.datetime | None] = mapped_column()
    totp_secret = encrypted("text")
    totp_pending = encrypted("text")
    totp_enabled_at: Mapped[dt.datetime | None] = mapped_column()
    # The last TOTP time step accepted: a code of that step or earlier is a replay.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    token_version: Mapped[int] = mapped_column(Integer, default=1)
    invite_token_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    invite_expires_at: Mapped[dt.datetime | None] = mapped_column()
    created_by: Mapped[uuid.UUID | None] = mapped_column()
    last_login_at: Mapped[dt.datetime | None] = mapped_column()
    # Until then the account, just recovered to a new phone, may not see its family's
    # records (``identity/login/recovery_guard.py``).
    recovery_hold_until: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def principal(self) -> Principal:
        """This account as the audit log names who acts."""
        return Principal(self.id, self.role, "citizen" if self.kind == "citizen" else "staff")


class RecoveryCode(Base):
    """A single-use second-factor fallback, stored as a keyed hash."""

    __tablename__ = "recovery_codes"
    __table_args__ = (UniqueConstraint("account_id", "code_hash"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    used_at: Mapped[dt.datetime | None] = mapped_column()


class AccountRecovery(Base):
    """One move of a citizen account to a new phone: what undoes it, and until when.

    The old phone is kept encrypted so that the undo can put it back; the undo token
    the old phone and e-mail were sent is stored only as a hash, and works once.
    """

    __tablename__ = "account_recoveries"
    __table_args__ = (
        UniqueConstraint("undo_hash"),
        Index("ix_account_recoveries_tenant_id_account_id", "tenant_id", "account_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(16))
    old_phone = encrypted("phone")
    notified: Mapped[list[str]] = mapped_column(JSONDoc)  # "sms", "email": kinds told
    hold_until: Mapped[dt.datetime | None] = mapped_column()
    undo_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    undo_expires_at: Mapped[dt.datetime] = mapped_column()
    undone_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AuthSession(Base):
    """One login: the family of refresh tokens (API) or the cookie (web) it produced.

    Revoking it (logout, reuse of a rotated refresh token, account reset) ends every
    token of the family on the next request.
    """

    __tablename__ = "auth_sessions"
    __table_args__ = (
        UniqueConstraint("web_token_hash"),
        Index("ix_auth_sessions_account_id_revoked_at", "account_id", "revoked_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))  # "api" | "web"
    amr: Mapped[list[str]] = mapped_column(JSONDoc)
    auth_time: Mapped[dt.datetime] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    web_token_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
    revoke_reason: Mapped[str | None] = mapped_column(String(32))


class RefreshToken(Base):
    """An opaque refresh token (SHA-256 stored). Used once: rotation marks ``used_at``."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    used_at: Mapped[dt.datetime | None] = mapped_column()


class LoginThrottle(Base):
    """Failed sign-in attempts per key (a keyed hash of a username, or of a client IP).

    Keyed by what was typed, not by account, so an unknown username is throttled exactly
    like a known one and the answers cannot tell them apart.
    """

    __tablename__ = "login_throttles"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    key: Mapped[str] = mapped_column(String(80))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime | None] = mapped_column()


def _signing_key_context(row: Any) -> dict[str, str]:
    return {"vaxport:purpose": "jwt-signing", "vaxport:kid": str(row.kid)}


class SigningKey(Base):
    """An ES256 key pair that signs access tokens, for the whole installation.

    The private key is stored only wrapped by the key provider (like data keys), bound
    to its key id; ``rotate-kek`` re-wraps it. Retiring keys stay published (JWKS) and
    accepted until ``publish_until``, when every token they signed has expired.
    """

    __tablename__ = "signing_keys"
    __table_args__ = (
        UniqueConstraint("kid"),
        Index(
            "uq_signing_keys_one_active",
            "state",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
        {
            "info": {
                "kek_wrapped": {
                    "blob": "private_key_wrapped",
                    "provider": "provider",
                    "kek_id": "provider_key_id",
                    "context": _signing_key_context,
                }
            }
        },
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    kid: Mapped[str] = mapped_column(String(64))
    alg: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    private_key_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    provider: Mapped[str] = mapped_column(String(16))
    provider_key_id: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(16))  # active | retiring | retired
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    publish_until: Mapped[dt.datetime | None] = mapped_column()
    retired_at: Mapped[dt.datetime | None] = mapped_column()


class OtpTransaction(Base):
    """One one-time code sent to a destination for a purpose (``identity.login.otp``).

    The code is stored only as a keyed hash bound to the transaction id and purpose. The
    destination is kept encrypted (the verifier needs it back) and as a keyed hash, which
    counts sends and wrong tries per destination across transactions. Rows are purged a
    day after they were made (the longest send window).
    """

    __tablename__ = "otp_transactions"
    __table_args__ = (
        Index(
            "ix_otp_transactions_tenant_id_dest_hash_created_at",
            "tenant_id",
            "dest_hash",
            "created_at",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column()
    purpose: Mapped[str] = mapped_column(String(16))
    dest_kind: Mapped[str] = mapped_column(String(8))
    dest_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    destination = encrypted("text", nullable=False)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    # Opaque value the requester bound to the code (e.g. the account a recovery targets).
    context: Mapped[str | None] = mapped_column(String(200))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
    verified_at: Mapped[dt.datetime | None] = mapped_column()
