"""Request and response models of the identity API (requests refuse unknown fields)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import Field, model_validator

from vaxport.core.schemas import RequestModel, ResponseModel, example

_TICKET = Field(min_length=1, max_length=512)
_SECRET = Field(min_length=1, max_length=1024)
_CODE = Field(min_length=6, max_length=12, pattern=r"^[0-9 ]+$")
_OPTIONAL_CODE = Field(default=None, min_length=6, max_length=12, pattern=r"^[0-9 ]+$")


class LoginIn(RequestModel):
    """Username and password."""

    model_config = example({"username": "nadia.admin", "password": "correct horse battery staple"})

    username: str = Field(min_length=1, max_length=64)
    password: str = _SECRET


class SecondFactorIn(RequestModel):
    """The ticket from the password step and a TOTP code *or* a recovery code."""

    model_config = example({"ticket": "tkt_3q2Fh1xYbV9mEw", "code": "492 817"})

    ticket: str = _TICKET
    code: str | None = _OPTIONAL_CODE
    recovery_code: str | None = Field(default=None, min_length=8, max_length=40)

    @model_validator(mode="after")
    def _exactly_one(self) -> SecondFactorIn:
        if (self.code is None) == (self.recovery_code is None):
            raise ValueError("give either code or recovery_code")
        return self


class TicketIn(RequestModel):
    """A login ticket."""

    model_config = example({"ticket": "tkt_3q2Fh1xYbV9mEw"})

    ticket: str = _TICKET


class EnrolmentConfirmIn(RequestModel):
    """The ticket and a code from the authenticator app, proving it is set up."""

    model_config = example({"ticket": "tkt_3q2Fh1xYbV9mEw", "code": "492817"})

    ticket: str = _TICKET
    code: str = _CODE


class RefreshIn(RequestModel):
    """A refresh token (used once)."""

    model_config = example({"refresh_token": "rt_8mN2kq7LzP0aVt3sXy"})

    refresh_token: str = Field(min_length=1, max_length=200)


class ActivateIn(RequestModel):
    """The invitation token and the chosen password."""

    model_config = example(
        {"token": "inv_Q7s9dKe2mZp4vB1c", "password": "a long passphrase of my own"}
    )

    token: str = Field(min_length=1, max_length=200)
    password: str = _SECRET


class ReauthenticateIn(RequestModel):
    """Password, and a TOTP code when a second factor is enrolled."""

    model_config = example({"password": "correct horse battery staple", "code": "492817"})

    password: str = _SECRET
    code: str | None = _OPTIONAL_CODE


class PasswordChangeIn(RequestModel):
    """The current password and the new one."""

    model_config = example(
        {
            "current_password": "correct horse battery staple",
            "new_password": "a new and longer passphrase",
        }
    )

    current_password: str = _SECRET
    new_password: str = _SECRET


class CodeIn(RequestModel):
    """A TOTP code."""

    model_config = example({"code": "492817"})

    code: str = _CODE


class MeUpdateIn(RequestModel):
    """Contact details one may change oneself (anything else, e.g. ``role``, is a 422)."""

    model_config = example({"display_name": "Nadia Haddad", "email": "nadia@health.example"})

    display_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)


class StaffCreateIn(RequestModel):
    """A staff member to invite: role and scope (a region, a facility, or neither)."""

    model_config = example(
        {
            "username": "sam.vaccinator",
            "role": "vaccinator",
            "region_code": "NOR-01",
            "display_name": "Sam Lee",
            "email": "sam@health.example",
        }
    )

    username: str = Field(min_length=3, max_length=64)
    role: str = Field(min_length=1, max_length=32)
    region_code: str | None = Field(default=None, min_length=1, max_length=64)
    facility_id: uuid.UUID | None = None
    display_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)


class StaffChangeIn(RequestModel):
    """A new role and scope."""

    model_config = example({"role": "facility_manager", "region_code": "NOR-01"})

    role: str = Field(min_length=1, max_length=32)
    region_code: str | None = Field(default=None, min_length=1, max_length=64)
    facility_id: uuid.UUID | None = None


class StaffQuery(RequestModel):
    """Paging of the staff list."""

    cursor: str | None = Field(default=None, min_length=1, max_length=64)
    limit: int = Field(default=50, ge=1, le=200)


class TokenOut(ResponseModel):
    """Tokens of an API session."""

    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name
    expires_in: int


class LoginOut(ResponseModel):
    """Where the login stands: tokens, or the ticket for the next step."""

    status: Literal["authenticated", "totp_required", "enrolment_required"]
    ticket: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    token_type: Literal["Bearer"] | None = None
    expires_in: int | None = None
    recovery_codes: list[str] | None = None


class EnrolmentOut(ResponseModel):
    """A new TOTP secret, as text, as an ``otpauth://`` URI and as a QR code image."""

    secret: str
    otpauth_uri: str
    qr_data_uri: str


class AccessTokenOut(ResponseModel):
    """A fresh access token after re-authentication."""

    access_token: str | None
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name
    expires_in: int


class RecoveryCodesOut(ResponseModel):
    """Single-use recovery codes: shown once, keep them somewhere safe."""

    recovery_codes: list[str]


class StaffOut(ResponseModel):
    """A staff account."""

    id: uuid.UUID
    username: str
    role: str
    region_code: str | None
    facility_id: uuid.UUID | None
    status: str
    display_name: str | None
    email: str | None
    phone: str | None
    totp_enabled: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None


class StaffPageOut(ResponseModel):
    """A page of staff; pass ``next_cursor`` back as ``cursor``."""

    items: list[StaffOut]
    next_cursor: str | None


class InvitationOut(ResponseModel):
    """The account and the single-use activation link to hand to the person."""

    account: StaffOut
    activation_url: str
    expires_at: dt.datetime


class CodeRequestIn(RequestModel):
    """Where to send a citizen login code: a phone number *or* an e-mail address."""

    model_config = example({"phone": "+1 613 555 0142"})

    phone: str | None = Field(default=None, min_length=1, max_length=32)
    email: str | None = Field(default=None, min_length=1, max_length=254)

    @model_validator(mode="after")
    def _exactly_one(self) -> CodeRequestIn:
        if (self.phone is None) == (self.email is None):
            raise ValueError("give either phone or email")
        return self


class CodeRequestOut(ResponseModel):
    """The transaction to verify the code against (the same answer for any destination)."""

    transaction_id: uuid.UUID
    expires_in: int


class CodeVerifyIn(RequestModel):
    """The transaction and the code that was sent."""

    model_config = example(
        {"transaction_id": "01931e4a-7c2b-7d3e-9f10-2a3b4c5d6e7f", "code": "123456"}
    )

    transaction_id: uuid.UUID
    code: str = Field(min_length=6, max_length=12, pattern=r"^[0-9 ]+$")


class RecoveryStartIn(RequestModel):
    """Move an account to ``new_phone``, proven by an e-mail code or ID + date of birth.

    ``email-code``: ``email`` (the account's). ``id-dob``: ``phone`` (the account's old
    number), ``id_type``, ``id_number`` and ``birth_date`` of a member of the account.
    """

    model_config = example(
        {"method": "email-code", "new_phone": "+1 613 555 0199", "email": "amina@example.org"}
    )

    method: Literal["email-code", "id-dob"]
    new_phone: str = Field(min_length=1, max_length=32)
    email: str | None = Field(default=None, min_length=1, max_length=254)
    phone: str | None = Field(default=None, min_length=1, max_length=32)
    id_type: str | None = Field(default=None, min_length=1, max_length=32)
    id_number: str | None = Field(default=None, min_length=1, max_length=64)
    birth_date: dt.date | None = None


class RecoveryStartOut(ResponseModel):
    """The code sent to the new phone and, for ``email-code``, the one sent by e-mail."""

    transaction_id: uuid.UUID
    factor_transaction_id: uuid.UUID | None
    expires_in: int


class RecoveryVerifyIn(RequestModel):
    """Both codes of a recovery (the e-mail one only for ``email-code``)."""

    model_config = example(
        {
            "transaction_id": "01931e4a-7c2b-7d3e-9f10-2a3b4c5d6e7f",
            "code": "123456",
            "factor_transaction_id": "01931e4a-7c2b-7d3e-9f10-2a3b4c5d6e80",
            "factor_code": "654321",
        }
    )

    transaction_id: uuid.UUID
    code: str = Field(min_length=6, max_length=12, pattern=r"^[0-9 ]+$")
    factor_transaction_id: uuid.UUID | None = None
    factor_code: str | None = Field(default=None, min_length=6, max_length=12, pattern=r"^[0-9 ]+$")


class RecoveryUndoIn(RequestModel):
    """The undo code the old phone or e-mail received (dashes and spaces as typed)."""

    model_config = example({"code": "ABCD-EFGH-JKLM-NPQR"})

    code: str = Field(min_length=16, max_length=40, pattern=r"^[A-Za-z0-9 -]+$")


class RecoveryUndoOut(ResponseModel):
    """The recovery is undone: the old phone is back, every session has ended."""

    status: Literal["undone"]


class RecoveryOut(ResponseModel):
    """One recovery of an account as support sees it (no phone numbers)."""

    id: uuid.UUID
    account_id: uuid.UUID
    method: str
    created_at: dt.datetime
    notified: list[str]
    hold_until: dt.datetime | None
    undo_expires_at: dt.datetime
    undone_at: dt.datetime | None


class RecoveryListOut(ResponseModel):
    """An account's recent recoveries, newest first."""

    items: list[RecoveryOut]
