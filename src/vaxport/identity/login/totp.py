"""TOTP second factor (RFC 6238, 30 s steps, 6 digits) and single-use recovery codes.

A code is accepted for the current step or one step either side (clock drift), and only
if its step is later than the last step accepted for the account: the same code (or an
older one) is never accepted twice. The caller stores the step with a compare-and-set.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets

import pyotp
import segno

DIGITS = 6
STEP_SECONDS = 30
DRIFT_STEPS = 1
RECOVERY_CODES = 10
_CODE = re.compile(r"^\d{6}$")
_RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U
_RECOVERY_GROUPS = 4
_RECOVERY_GROUP_LEN = 4


def new_secret() -> str:
    """A fresh 160-bit base32 secret (RFC 4226's recommended length)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, *, account_name: str, issuer: str) -> str:
    """The ``otpauth://`` URI authenticator apps read from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account_name, issuer_name=issuer
    )


def qr_data_uri(uri: str) -> str:
    """The URI as an SVG QR code in a ``data:`` URI (rendered here, no script needed)."""
    qr = segno.make(uri, error="m")
    data_uri: str = qr.svg_data_uri(scale=5, border=4, dark="#000", light="#fff")
    return data_uri


def step_at(when: dt.datetime) -> int:
    """The TOTP time step containing ``when``."""
    return int(when.timestamp()) // STEP_SECONDS


def matching_step(secret: str, code: str, *, now: dt.datetime, last_step: int | None) -> int | None:
    """The step ``code`` is valid for (within drift, after ``last_step``), else None."""
    code = code.strip().replace(" ", "")
    if not _CODE.match(code):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = step_at(now)
    found = None
    # Compare every candidate (no early exit): timing says nothing about which matched.
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        expected = totp.generate_otp(step)
        if hmac.compare_digest(expected, code) and found is None:
            found = step
    if found is None or (last_step is not None and found <= last_step):
        return None
    return found


def code_at(secret: str, when: dt.datetime) -> str:
    """The code an authenticator shows at ``when`` (demo output and tests)."""
    return str(pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).at(when))


def new_recovery_codes(n: int = RECOVERY_CODES) -> list[str]:
    """``n`` codes like ``K7QX-3MZP-9RTA-HW4N`` (about 78 bits each)."""
    return [
        "-".join(
            "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_GROUP_LEN))
            for _ in range(_RECOVERY_GROUPS)
        )
        for _ in range(n)
    ]


def normalise_recovery_code(code: str) -> str:
    """Upper-case, without spaces or dashes (people type them every which way)."""
    return re.sub(r"[\s-]+", "", code).upper()


def recovery_code_hash(code: str) -> bytes:
    """SHA-256 of a normalised recovery code: ~78 random bits need no slow hash."""
    return hashlib.sha256(b"vaxport.recovery\x00" + normalise_recovery_code(code).encode()).digest()
