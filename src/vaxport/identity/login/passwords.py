"""Staff passwords: argon2id hashing off the event loop, and the acceptance policy.

Policy (NIST SP 800-63B): at least 12 characters (at most 256), no composition rules;
refused if it is a common password (the list shipped in ``data/``, ~20,000 entries, also
with digits and symbols trimmed from either end, or repeated), if it is mostly one
character, or if it contains the username or the product's name.

Hashing: argon2id, 46 MiB, 1 pass, 1 lane (OWASP's first recommended setting). The
parameters live in the hash, so a later change re-hashes each account at its next login.
At most ``_CONCURRENCY`` hashes run at once per process, bounding memory under a flood.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import re
import unicodedata
import weakref
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from vaxport.core.i18n import N_, Param

MIN_LENGTH = 12
MAX_LENGTH = 256
LIMITS: dict[str, Param] = {"min_length": MIN_LENGTH, "max_length": MAX_LENGTH}
_CONCURRENCY = 4
_TRIM = re.compile(r"^[\W\d_]+|[\W\d_]+$")

HASHER = PasswordHasher(time_cost=1, memory_cost=47_104, parallelism=1, type=Type.ID)
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _slot() -> asyncio.Semaphore:
    # One semaphore per event loop: a semaphore may only be awaited on its own loop.
    loop = asyncio.get_running_loop()
    sem = _slots.get(loop)
    if sem is None:
        sem = _slots[loop] = asyncio.Semaphore(_CONCURRENCY)
    return sem


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, lower-cased."""
    raw = resources.files("vaxport.identity").joinpath("data/common-passwords.txt.gz")
    text = gzip.decompress(raw.read_bytes()).decode("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


@functools.lru_cache(maxsize=2)
def _dummy_hash(hasher: PasswordHasher) -> str:
    # Verified against when the account does not exist, so both cases cost the same: made
    # by the hasher in use, so it costs what a real account's hash costs.
    return hasher.hash("vaxport: no such account, equivalent work")


def normalise(password: str) -> str:
    """NFKC, as recommended for passwords typed on different devices."""
    return unicodedata.normalize("NFKC", password)


def _is_repetition(word: str, listed: frozenset[str]) -> bool:
    for size in range(1, len(word) // 2 + 1):
        if len(word) % size == 0 and word[:size] * (len(word) // size) == word:
            unit = word[:size]
            return len(unit) < 4 or unit in listed
    return False


def _dominated(word: str, listed: frozenset[str]) -> bool:
    """Whether a listed password of 8+ characters makes up most of ``word``."""
    shortest = max(8, len(word) // 2 + 1)
    for size in range(len(word), shortest - 1, -1):
        for start in range(len(word) - size + 1):
            if word[start : start + size] in listed:
                return True
    return False


def problems(password: str, *, username: str | None = None) -> list[str]:
    """Why ``password`` is refused, in English (empty when acceptable)."""
    return [reason.format(**LIMITS) for reason in reasons(password, username=username)]


def reasons(password: str, *, username: str | None = None) -> list[str]:
    """Why ``password`` is refused, as message ids (empty when acceptable); their
    ``{min_length}``/``{max_length}`` are :data:`LIMITS`."""
    pw = normalise(password)
    if len(pw) < MIN_LENGTH:
        return [N_("must be at least {min_length} characters")]
    if len(pw) > MAX_LENGTH:
        return [N_("must be at most {max_length} characters")]
    lowered = pw.lower()
    listed = common_passwords()
    core = _TRIM.sub("", lowered)
    found: list[str] = []
    if (
        lowered in listed
        or (len(core) >= 4 and core in listed)
        or _is_repetition(core, listed)
        or _dominated(lowered, listed)
    ):
        found.append(N_("is too common; choose a longer phrase of unrelated words"))
    elif len(set(lowered)) < 5:
        found.append(N_("repeats too few different characters"))
    if username and len(username) >= 3 and username.lower() in lowered:
        found.append(N_("must not contain the username"))
    if "vaxport" in lowered:
        found.append(N_("must not contain the name of the service"))
    return found


async def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (computed in a worker thread)."""
    async with _slot():
        return await asyncio.to_thread(HASHER.hash, normalise(password))


async def verify_password(stored: str | None, password: str) -> tuple[bool, str | None]:
    """``(matches, new_hash)``; ``new_hash`` is set when the stored one should be upgraded.

    With ``stored=None`` (no such account, no password yet) the same work is done against
    a fixed hash and the answer is always False.
    """
    candidate = normalise(password)[: MAX_LENGTH * 4]
    target = stored or _dummy_hash(HASHER)
    async with _slot():
        ok: bool
        try:
            ok = await asyncio.to_thread(HASHER.verify, target, candidate)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok or stored is None:
            return False, None
        if HASHER.check_needs_rehash(stored):
            return True, await asyncio.to_thread(HASHER.hash, candidate)
    return True, None
