"""Request and response bodies of the verification and trust-list routes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import Field

from vaxport.core.schemas import RequestModel, ResponseModel, example

MAX_PAYLOAD_CHARS = 64 * 1024


class VerifyRequest(RequestModel):
    """QR text (``HC1:...``, ``shc:/...``), a JWS, or a ``.smart-health-card`` file's JSON."""

    model_config = RequestModel.model_config | example(
        {"payload": "HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH..."}
    )
    payload: str = Field(min_length=1, max_length=MAX_PAYLOAD_CHARS)


class Checks(ResponseModel):
    """Each check's answer; ``null`` when not reached."""

    decode: bool | None
    signature: bool | None
    expiry: bool | None
    schema_: bool | None = Field(alias="schema", serialization_alias="schema")
    key_usage: bool | None
    revocation: bool | None


class Vaccination(ResponseModel):
    """The holder's vaccination status (no identifiers)."""

    doses: int | None
    latest_date: str | None
    product: str | None
    fully_vaccinated: bool | None


class Holder(ResponseModel):
    """What a verifier may see of the holder: name, birth date, vaccination status."""

    family_name: str | None
    given_name: str | None
    birth_date: str | None
    vaccination: Vaccination | None


class VerifyResult(ResponseModel):
    """The verifier's answer (the same shape ``vaxport verify --json`` prints)."""

    valid: bool
    format: Literal["eu-dcc", "shc"] | None
    checks: Checks
    reason: str | None
    holder: Holder | None


class DscImport(RequestModel):
    """Foreign Document Signer Certificate(s): PEM (one or more) or base64 DER."""

    model_config = RequestModel.model_config | example(
        {
            "certificate": "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----",
            "country": "DE",
        }
    )
    certificate: str = Field(min_length=1, max_length=4 * 1024 * 1024)
    country: str | None = Field(default=None, min_length=2, max_length=2)


class IssuerImport(RequestModel):
    """An SMART Health Cards issuer: its ``iss`` URL and public JWKS."""

    model_config = RequestModel.model_config | example(
        {
            "iss": "https://spec.smarthealth.cards/examples/issuer",
            "jwks": {
                "keys": [
                    {
                        "kty": "EC",
                        "kid": "3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s",
                        "use": "sig",
                        "alg": "ES256",
                        "crv": "P-256",
                        "x": "11XvRWy1I2S0EyJlyf_bWfw_TQ5CJJNLw78bHXNxcgw",
                        "y": "eZXwxvO1hvCY0KucrPfKo7yAyMT6Ajc3N7OkAB6VYy8",
                    }
                ]
            },
        }
    )
    iss: str = Field(min_length=9, max_length=500)
    jwks: dict[str, Any]


class RevocationImport(RequestModel):
    """Revoked foreign certificates under one key.

    ``eu-dcc``: ``kid`` (base64 of the 8-byte kid) and ``entries`` of base64 revocation
    hashes (UCI, COUNTRYCODEUCI or SIGNATURE, 16 bytes or full 32). ``shc``: ``iss``,
    ``kid`` and ``entries`` of ``rid`` or ``rid.timestamp``.
    """

    model_config = RequestModel.model_config | example(
        {"kind": "eu-dcc", "kid": "0dm6ePXV9WI=", "entries": ["kZbf6ntH7rY7/N7PRqgYIg=="]}
    )
    kind: Literal["eu-dcc", "shc"]
    kid: str = Field(min_length=1, max_length=100)
    iss: str | None = Field(default=None, max_length=500)
    entries: list[str] = Field(min_length=1, max_length=10_000)


class ImportOut(ResponseModel):
    """What an import added."""

    dscs_added: int
    dscs_known: int
    issuer: str | None
    issuer_keys: int


class RevocationOut(ResponseModel):
    """How many revocation entries were new."""

    added: int


class DscOut(ResponseModel):
    """A trusted foreign DSC."""

    id: uuid.UUID
    kid: str
    country: str | None
    not_before: dt.datetime
    not_after: dt.datetime
    source: str


class IssuerOut(ResponseModel):
    """A trusted SHC issuer (``kids``: its keys, as ``DELETE .../trust/shc-keys/{kid}``
    names them)."""

    iss: str
    keys: int
    kids: list[str]
    updated_at: dt.datetime


class TrustOut(ResponseModel):
    """A tenant's trust list."""

    dscs: list[DscOut]
    issuers: list[IssuerOut]
    revocations: int


class CertificateOut(ResponseModel):
    """One of a person's certificates: what the page, the PDF and the API show.

    ``qr`` is the QR code's text (``HC1:...`` or ``shc:/...``; ``null`` for a card too
    large for one QR code: download the ``.smart-health-card`` file instead); ``jws`` is
    the SMART Health Card itself. ``dose_ids`` are the dose records it states.
    """

    id: uuid.UUID
    beneficiary_id: uuid.UUID
    format: Literal["eu-dcc", "shc"]
    status: Literal["current", "superseded", "revoked"]
    issued_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    revocation_reason: str | None
    kid: str
    uvci: str | None
    dose_ids: list[uuid.UUID]
    qr: str | None
    jws: str | None


class RevokeOut(ResponseModel):
    """What a revocation did (certificates of a lot are revoked by the worker shortly)."""

    revoked: int
    doses_withheld: int
    people: int
