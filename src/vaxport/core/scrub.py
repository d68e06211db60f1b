"""Personal data never reaches a log line: a structlog processor that masks it.

It runs in the shared processor chain (``core/logging.py``) after exceptions have been
formatted, so structlog events, stdlib records and tracebacks all pass through it. Two
defences: values under personal *keys* are masked whatever they hold, at any depth; and
every string (messages, tracebacks, reprs of unknown objects) is searched for personal
*patterns* (e-mail, phone numbers, JWTs, OTPs next to "code", Authorization/Cookie
headers, and the ID-number formats tenants register from their configuration).
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Mapping
from typing import Any

MASK = "[redacted]"

# Exact key names (normalised: lower case, '-' and ' ' as '_') that are personal.
_EXACT_KEYS = frozenset(
    {
        "name",
        "given_name",
        "family_name",
        "first_name",
        "last_name",
        "middle_name",
        "full_name",
        "maiden_name",
        "code",
        "dob",
        "address",
        "street",
        "postal_address",
        "home_address",
        "pin",
        "passcode",
        "cookies",
        "otp_code",
        "one_time_code",
        "verification_code",
        "login_code",
        "auth_code",
        "authorization_code",
        "recovery_code",
        "x_api_key",
    }
)
# Keys that are personal whether alone or as the last part of a compound
# ("reset_token", "guardian_phone", "contact_email").
_SUFFIX_KEYS = (
    "phone",
    "phone_number",
    "mobile",
    "msisdn",
    "email",
    "e_mail",
    "email_address",
    "id_number",
    "national_id",
    "passport_number",
    "birth_date",
    "date_of_birth",
    "otp",
    "password",
    "passwd",
    "token",
    "secret",
    "api_key",
    "authorization",
    "cookie",
    "set_cookie",
    "credentials",
)
# Keys that are personal as the first part of a compound ("otp_sent", "password_hash").
_PREFIX_KEYS = ("otp_", "password_", "passwd_", "secret_")

# Structlog's own bookkeeping: never personal, must survive untouched.
_META_KEYS = frozenset({"_record", "_from_structlog", "timestamp", "level", "logger"})


def normalise_key(key: str) -> str:
    """``Set-Cookie`` -> ``set_cookie``: one spelling for every comparison."""
    return key.strip().lower().replace("-", "_").replace(" ", "_")


@functools.lru_cache(maxsize=4096)
def is_personal_key(key: str) -> bool:
    """True when a value stored under ``key`` must be treated as personal data (remembered:
    keys are a small vocabulary, asked again by every log line and audit entry)."""
    k = normalise_key(key)
    if k in _EXACT_KEYS:
        return True
    if any(k == s or k.endswith("_" + s) for s in _SUFFIX_KEYS):
        return True
    return k.startswith(_PREFIX_KEYS)


# --- patterns inside free text ------------------------------------------------------

# "@" also percent-encoded, as in a logged URL's query string ("?to=a%40b.org").
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# JWS/JWT compact serialisation: base64url('{"...') header, payload, signature (JWE has 5).
_JWT = re.compile(
    r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){0,2}"
)
# Header lines and reprs: "Authorization: Bearer x", "cookie=a=b; c=d",
# "(b'cookie', b'sid=1')", "{'authorization': 'Basic ...'}".
_HEADER = re.compile(
    r"(?i)(\b(?:proxy-)?authorization|\b(?:set-)?cookie|\bx-api-key)"
    r"(['\"]?\s*(?:[:=]|,)\s*)"
    r"(b?'[^']*'|b?\"[^\"]*\"|[^\r\n]+)"
)
_AUTH_SCHEME = re.compile(r"(?i)\b(bearer|basic|digest|token)\s+[A-Za-z0-9._~+/=-]{8,}")
# key=value / "key": "value" pairs for personal keys inside messages and reprs.
_PAIR_KEYS = (
    r"(?:given|family|first|last|middle|full)[-_ ]?name|name|e[-_]?mail|email[-_]?address|"
    r"phone(?:[-_ ]?number)?|mobile|msisdn|id[-_ ]?number|national[-_ ]?id|"
    r"passport[-_ ]?number|birth[-_ ]?date|date[-_ ]?of[-_ ]?birth|dob|address|"
    r"otp(?:[-_ ]?code)?|code|pin|passcode|password|passwd|secret|"
    r"(?:access|refresh|id|reset|api)?[-_]?token|api[-_]?key"
)
_PAIR = re.compile(
    r"(?i)(?<![\w-])(['\"]?(?:" + _PAIR_KEYS + r")['\"]?\s*[:=]\s*)"
    r"(b?'[^']*'|b?\"[^\"]*\"|[^\s,;&)}\]\[][^\s,;&)}\]]*)"
)
# An OTP-looking number near "code"/"otp"/"pin": "your code is 123456", "OTP 123 456".
_OTP = re.compile(
    r"(?i)\b(otp|one[- ]time|passcode|pin|code)\b([^\d\n]{0,24}?)"
    r"(?<!\w)(\d{3}[ -]?\d{3}|\d{4,8})(?!\w)"
)
# Phone candidates; digits are counted in _phone() (8..15 make a phone number).
_PHONE = re.compile(r"(?<![\w.:/+-])(?:\+|00)?\(?\d[\d ().-]{6,24}\d(?![\w:/-]|\.\d)")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_DATE = re.compile(r"^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4})$")


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(c.isdigit() for c in text)
    if not 8 <= digits <= 15:
        return text
    if "." in text and (text.count(".") == 1 or _IPV4.match(text)):
        return text  # a decimal number or an IPv4 address, not a phone number
    if _DATE.match(text):
        return text  # a calendar date ("2026-11-27 06:57" prints one before the time)
    return "[phone]"


class _Registry:
    """Tenant-registered ID-number patterns, combined into one regex (copy on write)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: tuple[str, ...] = ()
        self.combined: re.Pattern[str] | None = None

    def add(self, source: str) -> None:
        with self._lock:
            if source in self._sources:
                return
            sources = (*self._sources, source)
            self.combined = re.compile("|".join(f"(?:{s})" for s in sources))
            self._sources = sources

    def clear(self) -> None:
        with self._lock:
            self._sources = ()
            self.combined = None


_registry = _Registry()


def register_pattern(regex: str | re.Pattern[str]) -> None:
    """Mask every match of ``regex`` (e.g. a tenant's national ID format) in log strings.

    Anchors (``^``/``$``) are dropped, since the pattern is searched inside longer text,
    and the match must stand alone (not inside a longer word or number). A pattern that
    matches the empty string would mask nothing useful and everything else: refused.
    """
    source = regex.pattern if isinstance(regex, re.Pattern) else regex
    source = source.strip()
    source = re.sub(r"^(?:\^|\\A)", "", source)
    source = re.sub(r"(?:\$|\\Z|\\z)$", "", source)
    compiled = re.compile(source)
    if compiled.fullmatch("") is not None:
        raise ValueError("an ID-number pattern must not match the empty string")
    _registry.add(rf"(?<![\w-])(?:{source})(?![\w-])")


def clear_registered_patterns() -> None:
    """Forget every registered pattern (tests, tenant reloads)."""
    _registry.clear()


def scrub_text(text: str) -> str:
    """``text`` with every personal pattern masked."""
    if len(text) < 4:
        return text
    text = _HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _OTP.sub(lambda m: f"{m.group(1)}{m.group(2)}[otp]", text)
    text = _PAIR.sub(lambda m: f"{m.group(1)}{MASK}", text)
    text = _JWT.sub("[token]", text)
    text = _EMAIL.sub("[email]", text)
    combined = _registry.combined
    if combined is not None:
        text = combined.sub("[id]", text)
    return _PHONE.sub(_phone, text)


def contains_personal_data(text: str) -> bool:
    """True when :func:`scrub_text` would change ``text``."""
    return scrub_text(text) != text


_PLAIN = (int, float, bool, type(None))


def scrub_value(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` with personal keys and patterns masked, at any depth."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, _PLAIN):
        return value
    if depth > 20:
        return MASK  # pathological nesting: refuse to walk (or render) it
    if isinstance(value, Mapping):
        return {
            k: (MASK if isinstance(k, str) and is_personal_key(k) else scrub_value(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub_value(v, depth + 1) for v in value]
    # Bytes and anything else would be rendered through str()/repr(): scan that text.
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", "replace")
    return scrub_text(str(value))


def scrub_event(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: mask personal keys and patterns in the whole event."""
    for key in list(event):
        if key in _META_KEYS:
            continue
        if is_personal_key(key):
            event[key] = MASK
        else:
            event[key] = scrub_value(event[key])
    return event
