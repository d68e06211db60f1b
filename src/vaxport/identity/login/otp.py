"""One-time codes sent to a phone or e-mail address, for login, recovery, contact changes
and claims. Other contexts call :func:`request_code` and :func:`verify_code`.

* A code is 6 digits from ``secrets``, stored only as a keyed hash (HMAC under a subkey
  of ``VAXPORT_SECRET_KEY``) of the transaction id, the purpose and the code: it verifies
  only for its own transaction and purpose. It is valid :data:`CODE_MINUTES` minutes and
  usable once.
* Wrong tries: at most :data:`MAX_TRIES` per transaction (then it is dead, even for the
  right code), and at most :data:`MAX_TRIES` per destination within
  :data:`FAILURE_WINDOW` since its last successful code, so asking for a new code never
  buys fresh guesses.
* Sends: at most 3 per 15 minutes and 20 per day per destination (:data:`SEND_LIMITS`),
  counted in the transactions table under a per-destination lock, so concurrent requests
  cannot overshoot. The per-address cap is the ``code_request`` route class of
  ``core/ratelimit`` (Redis when configured, failing closed with 503 when it is down):
  every route that calls :func:`request_code` must declare ``rate="code_request"``.
* Requesting never looks at accounts: a known and an unknown destination get the same
  answer after the same work (a transaction row and a queued message).

Counts use ``core.clock`` so tests can move time. Transactions live in the database
(``otp_transactions``): the embedded default has no Redis.
"""

from __future__ import annotations

import datetime as dt
import hmac
import math
import random
import secrets
import uuid
from dataclasses import dataclass
from typing import Literal, get_args

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vaxport.core import clock
from vaxport.core.db import Database, serialize_on
from vaxport.core.errors import TooManyRequests, ValidationFailed, field_error, invalid
from vaxport.core.i18n import N_
from vaxport.identity.credentials.secrets import mac
from vaxport.identity.models import OtpTransaction
from vaxport.identity.ports import ports
from vaxport.identity.staff.contacts import normalise_email, normalise_phone
from vaxport.settings import Settings
from vaxport.tenancy.service import TenantInfo

Purpose = Literal["login", "recovery", "contact_change", "claim"]
PURPOSES: tuple[str, ...] = get_args(Purpose)
DestinationKind = Literal["phone", "email"]

CODE_DIGITS = 6
CODE_MINUTES = 3
MAX_TRIES = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
# (sends, window): every one must allow a new code for the destination.
SEND_LIMITS: tuple[tuple[int, dt.timedelta], ...] = (
    (3, dt.timedelta(minutes=15)),
    (20, dt.timedelta(days=1)),
)
KEEP = dt.timedelta(days=1)  # the longest send window: older rows count for nothing
BAD_CODE = N_("is wrong, expired or used up; ask for a new code")
_PURGE_PROBABILITY = 0.01


@dataclass(frozen=True, slots=True)
class Destination:
    """A normalised destination: ``("phone", E.164)`` or ``("email", lower-case)``.

    ``context`` is what the requester bound to the code (None when nothing was).
    """

    kind: DestinationKind
    value: str
    context: str | None = None


def parse_destination(
    tenant: TenantInfo,
    value: str,
    *,
    kind: DestinationKind | None = None,
    field: str = "destination",
) -> Destination:
    """A phone (read in the tenant's region, to E.164) or an e-mail (lower-cased).

    Without ``kind``, anything with an ``@`` is an e-mail address. 422 naming ``field``.
    """
    stripped = (value or "").strip()
    if not stripped:
        raise invalid(field, N_("is required: fill it in"))
    if len(stripped) > 254:
        raise invalid(field, N_("is too long: use at most {max_length} characters"), max_length=254)
    if kind == "email" or (kind is None and "@" in stripped):
        email = normalise_email(stripped, field=field)
        assert email is not None
        return Destination("email", email)
    phone = normalise_phone(tenant, stripped, field=field)
    assert phone is not None
    return Destination("phone", phone)


def _dest_hash(settings: Settings, tenant_id: uuid.UUID, dest: Destination) -> bytes:
    return mac(
        settings, "otp-destination", tenant_id.bytes + f"{dest.kind}\x00{dest.value}".encode()
    )


def _code_hash(settings: Settings, transaction_id: uuid.UUID, purpose: str, code: str) -> bytes:
    return mac(settings, "otp-code", transaction_id.bytes + f"{purpose}\x00{code}".encode())


def new_code() -> str:
    """Six digits from the operating system's CSPRNG."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def _check_purpose(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown one-time code purpose {purpose!r}")


async def _lock_destination(session: AsyncSession, dest_hash: bytes) -> None:
    """Serialise sends and tries of one destination (SQLite writers are serial already)."""
    await serialize_on(session, "vaxport.otp-destination", dest_hash)


def _retry_after(oldest: dt.datetime, window: dt.timedelta, now: dt.datetime) -> int:
    return max(1, math.ceil((oldest + window - now).total_seconds()))


async def _send_refusal(
    session: AsyncSession, tenant_id: uuid.UUID, dest_hash: bytes, now: dt.datetime
) -> int | None:
    """Seconds until the destination may get another code; None when it may now."""
    for amount, window in SEND_LIMITS:
        recent = (
            (
                await session.execute(
                    select(OtpTransaction.created_at)
                    .where(
                        OtpTransaction.tenant_id == tenant_id,
                        OtpTransaction.dest_hash == dest_hash,
                        OtpTransaction.created_at > now - window,
                    )
                    .order_by(OtpTransaction.created_at.desc())
                    .limit(amount)
                )
            )
            .scalars()
            .all()
        )
        if len(recent) >= amount:
            return _retry_after(recent[-1], window, now)
    return None


async def request_code(
    *,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    destination: str,
    purpose: Purpose,
    client_ip: str | None,
    locale: str | None = None,
    kind: DestinationKind | None = None,
    context: str | None = None,
    field: str = "destination",
) -> uuid.UUID:
    """Send a new code to ``destination`` for ``purpose``; the transaction id to verify it.

    ``destination`` is parsed with :func:`parse_destination` (422 naming ``field``);
    ``context`` (at most 200 characters) is bound to the code and handed back by
    :func:`verify_code`. 429 with ``Retry-After`` when the destination had its sends.
    ``client_ip`` is accepted for the callers' symmetry; the per-address cap is the
    route's ``code_request`` class.
    """
    dest = parse_destination(tenant, destination, kind=kind, field=field)
    return await open_transaction(
        db=db,
        settings=settings,
        tenant=tenant,
        dest=dest,
        purpose=purpose,
        locale=locale,
        context=context,
    )


def decoy(label: str) -> Destination:
    """A destination nobody receives at (for :func:`open_transaction` ``deliver=False``).

    ``label`` is a stable keyed value of what was asked about, so the decoy's sends are
    counted and limited like a real destination's.
    """
    return Destination("phone", "decoy:" + label)


async def open_transaction(
    *,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    dest: Destination,
    purpose: Purpose,
    locale: str | None = None,
    context: str | None = None,
    deliver: bool = True,
) -> uuid.UUID:
    """:func:`request_code` for an already parsed destination.

    With ``deliver=False`` the transaction row is made and counted as usual (same limits,
    same 429, same answer) but no message is queued: its code is known to nobody, so it
    can never verify. Callers use it when the destination they would send to is unknown
    (a claim of an ID that is not registered), keeping both answers identical.
    """
    _check_purpose(purpose)
    if context is not None and len(context) > 200:
        raise ValueError("context is at most 200 characters")
    dest_hash = _dest_hash(settings, tenant.id, dest)
    transaction_id = uuid.uuid4()
    code = new_code()
    now = clock.utcnow()
    async with db.transaction(tenant_id=tenant.id) as uow:
        s = uow.session
        await _lock_destination(s, dest_hash)
        wait = await _send_refusal(s, tenant.id, dest_hash, now)
        if wait is None:
            s.add(
                OtpTransaction(
                    id=transaction_id,
                    tenant_id=tenant.id,
                    purpose=purpose,
                    dest_kind=dest.kind,
                    dest_hash=dest_hash,
                    destination=dest.value,
                    code_hash=_code_hash(settings, transaction_id, purpose, code),
                    context=context,
                    failures=0,
                    created_at=now,
                    expires_at=now + dt.timedelta(minutes=CODE_MINUTES),
                )
            )
            if deliver:
                await ports().send_code(
                    uow,
                    tenant_id=tenant.id,
                    destination=dest.value,
                    kind="sms" if dest.kind == "phone" else "email",
                    code=code,
                    locale=locale,
                    minutes=CODE_MINUTES,
                )
    if wait is not None:
        raise TooManyRequests(
            N_("too many codes were sent to this {contact}; try again in {seconds} s"),
            params={"contact": dest.kind, "seconds": wait},
            headers={"Retry-After": str(wait)},
            retry_after=wait,
        )
    if random.random() < _PURGE_PROBABILITY:  # noqa: S311 - housekeeping, not security
        await purge(db, tenant_id=tenant.id)
    return transaction_id


def rejected(field: str = "code") -> ValidationFailed:
    return ValidationFailed(f"{field}: {BAD_CODE}", errors=[field_error(field, BAD_CODE)])


async def _destination_failures(
    session: AsyncSession, tenant_id: uuid.UUID, dest_hash: bytes, now: dt.datetime
) -> int:
    """Wrong tries at the destination within the window, since its last good code."""
    mine = (OtpTransaction.tenant_id == tenant_id, OtpTransaction.dest_hash == dest_hash)
    since = now - FAILURE_WINDOW
    last_ok = (
        await session.execute(select(func.max(OtpTransaction.verified_at)).where(*mine))
    ).scalar_one_or_none()
    if last_ok is not None and last_ok > since:
        since = last_ok
    total = (
        await session.execute(
            select(func.coalesce(func.sum(OtpTransaction.failures), 0)).where(
                *mine, OtpTransaction.created_at > since
            )
        )
    ).scalar_one()
    return int(total)


async def verify_code(
    *,
    db: Database,
    settings: Settings,
    tenant: TenantInfo,
    transaction_id: uuid.UUID,
    code: str,
    purpose: Purpose,
) -> Destination:
    """The destination a correct code proves (with the bound ``context``); once only.

    Every refusal (unknown transaction, other purpose, expired, used, too many tries,
    wrong code) is the same 422 on the ``code`` field; a wrong code counts against the
    transaction and the destination before the answer.
    """
    _check_purpose(purpose)
    cleaned = (code or "").strip()
    now = clock.utcnow()
    proven: Destination | None = None
    async with db.transaction(tenant_id=tenant.id) as uow:
        s = uow.session
        row = (
            await s.execute(
                select(OtpTransaction.dest_hash).where(
                    OtpTransaction.tenant_id == tenant.id, OtpTransaction.id == transaction_id
                )
            )
        ).scalar_one_or_none()
        if row is not None:
            await _lock_destination(s, row)
            tx = (
                await s.execute(
                    select(OtpTransaction)
                    .where(
                        OtpTransaction.tenant_id == tenant.id, OtpTransaction.id == transaction_id
                    )
                    .with_for_update()
                )
            ).scalar_one()
            live = (
                tx.purpose == purpose
                and tx.verified_at is None
                and tx.expires_at > now
                and tx.failures < MAX_TRIES
                and await _destination_failures(s, tenant.id, tx.dest_hash, now) < MAX_TRIES
            )
            if live:
                expected = _code_hash(settings, tx.id, tx.purpose, cleaned)
                if hmac.compare_digest(expected, tx.code_hash):
                    tx.verified_at = now
                    kind: DestinationKind = "email" if tx.dest_kind == "email" else "phone"
                    proven = Destination(kind, tx.destination or "", tx.context)
                else:
                    await s.execute(
                        update(OtpTransaction)
                        .where(OtpTransaction.id == tx.id)
                        .values(failures=OtpTransaction.failures + 1)
                    )
    if proven is None:
        raise rejected()
    return proven


async def purge(db: Database, *, tenant_id: uuid.UUID) -> None:
    """Delete transactions older than every window (they count for nothing any more)."""
    async with db.transaction(tenant_id=tenant_id) as uow:
        await uow.session.execute(
            delete(OtpTransaction).where(
                OtpTransaction.tenant_id == tenant_id,
                OtpTransaction.created_at < clock.utcnow() - KEEP,
            )
        )
