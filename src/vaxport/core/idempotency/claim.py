"""An Idempotency-Key claimed inside the use case's own transaction (one commit, no extra
round trips).

A route marked :func:`claims_in_transaction` gets a :class:`Claim` from the middleware
instead of the middleware claiming the key in transactions of its own (read, claim,
store: three more commits). The use case inserts the key's row, answer included and
sealed, with its other rows (:meth:`Claim.answer`), so the row exists if and only if the
act committed: no ``in_progress`` state, nothing left behind by a crash. A key already
held makes that insert fail (the unique constraint, after any concurrent holder
committed or rolled back): the use case rolls back and raises :class:`KeyTaken`, and the
middleware answers as for any retry (the stored answer, a 422 for another request, a 409
while another runs). The request passed the route's permission gate before its use case
ran, so a replay here is gated as the middleware's own replays are.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, cast

import orjson
from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError
from starlette.requests import HTTPConnection

from vaxport.core.clock import utcnow
from vaxport.core.crypto.direct import seal_bytes
from vaxport.core.crypto.keyring import KeySession
from vaxport.core.db import Database, Rows, UnitOfWork
from vaxport.core.errors import Conflict
from vaxport.core.i18n import N_
from vaxport.core.idempotency.store import DONE, IdempotencyKey, lookup
from vaxport.core.ids import uuid7

T = TypeVar("T")
CLAIM = "vaxport.idempotency.claim"
IN_TRANSACTION = "__vaxport_claims_in_transaction__"
KEYS = cast(Table, IdempotencyKey.__table__)
# The claim's insert fails on this constraint when the key is held already.
_HELD = "uq_idempotency_keys_scope"


class KeyTaken(Conflict):
    """The Idempotency-Key is held by an earlier (or concurrent) request: the middleware
    answers instead, as for a retry."""

    slug = "idempotency-key-in-use"
    title = "Idempotency-Key in use"


@dataclass(slots=True)
class Claim:
    """The key of one request, to be inserted with the use case's rows."""

    tenant_id: uuid.UUID
    scope: str
    key: str
    fingerprint: str
    ttl: dt.timedelta
    kept: bool = field(default=False)
    taken: bool = field(default=False)

    def answer(
        self,
        session: KeySession,
        *,
        status: int,
        body: bytes,
        headers: list[list[str]] | None = None,
        content_type: str = "application/json",
        subject_id: uuid.UUID | None = None,
        withheld: tuple[str, ...] = (),
    ) -> Rows:
        """The key's row with the answer sealed (under ``subject_id``'s key when it is about
        a person), for the use case's batch: its gate, so a held key is what fails.

        ``body`` is the answer as kept: fields named in ``withheld`` already ``null``.
        ``session`` is the transaction as the keyring sees it (inside ``uow.run_sync``), so a
        subject key created by the same transaction seals it.
        """
        row_id = uuid7()
        name = "person_answer" if subject_id is not None else "answer"
        sealed = seal_bytes(
            session,
            IdempotencyKey,
            name,
            tenant_id=self.tenant_id,
            row_id=row_id,
            plaintext=body,
            subject_id=subject_id,
        )
        now = utcnow()
        row: dict[str, Any] = {
            "id": row_id,
            "tenant_id": self.tenant_id,
            "scope": self.scope,
            "key": self.key,
            "fingerprint": self.fingerprint,
            "state": DONE,
            "response_status": status,
            "response_content_type": content_type,
            "response_headers": headers,
            "subject_id": subject_id,
            "withheld": ",".join(withheld) or None,
            "created_at": now,
            "expires_at": now + self.ttl,
            "answer_enc": sealed if subject_id is None else None,
            "person_answer_enc": sealed if subject_id is not None else None,
        }
        return Rows(KEYS, [row], gate=True)

    def kept_with(self, uow: UnitOfWork) -> None:
        """Note, once ``uow`` commits, that the answer is kept (the middleware keeps nothing)."""

        async def done() -> None:
            self.kept = True

        uow.after_commit(done)

    def refused(self, exc: IntegrityError) -> KeyTaken | None:
        """The :class:`KeyTaken` to raise when ``exc`` is the key's row meeting a holder."""
        if _HELD not in str(exc.orig) and "idempotency_keys" not in str(exc.orig):
            return None
        self.taken = True
        return _key_taken()

    async def held(self, db: Database) -> KeyTaken | None:
        """The :class:`KeyTaken` to raise when the key is held already, else None: a
        refused retry may have met its own first run's consequence (the middleware then
        answers with the first answer, or 422 for another request under the same key)."""
        async with db.read(tenant_id=self.tenant_id) as session:
            if await lookup(session, self.scope, self.key) is None:
                return None
        self.taken = True
        return _key_taken()


def _key_taken() -> KeyTaken:
    return KeyTaken(N_("this Idempotency-Key is in use"), headers={"Retry-After": "1"})


@dataclass(frozen=True, slots=True)
class Keep(Generic[T]):
    """How a use case keeps its answer with its rows: the claim, and the route's rendering
    of the use case's result as the key's row (:meth:`Claim.answer`)."""

    claim: Claim
    render: Callable[[KeySession, T], Rows]


class Created(Protocol):
    """An answer naming what a request created (a response model with an ``id``)."""

    @property
    def id(self) -> uuid.UUID: ...

    def model_dump(self, *, mode: str) -> dict[str, Any]: ...


C = TypeVar("C", bound=Created)


def kept_created(
    claim: Claim | None, location: str, subject: Callable[[C], uuid.UUID | None]
) -> Keep[C] | None:
    """The request's key kept with what it created: 201, the answer, ``Location`` =
    ``location`` + its id, sealed under the key of the person ``subject`` names in it
    (None: of no one)."""
    if claim is None:
        return None

    def render(session: KeySession, out: C) -> Rows:
        return claim.answer(
            session,
            status=201,
            body=orjson.dumps(out.model_dump(mode="json")),
            headers=[["location", f"{location}{out.id}"]],
            subject_id=subject(out),
        )

    return Keep(claim, render)


def claim_of(conn: HTTPConnection) -> Claim | None:
    """The request's claim, when the middleware left it to the route's use case."""
    value = (conn.scope.get("state") or {}).get(CLAIM)
    return value if isinstance(value, Claim) else None


def claims_in_transaction(endpoint: Any) -> Any:
    """Mark a route whose use case takes the request's :class:`Claim` (see module doc)."""
    setattr(endpoint, IN_TRANSACTION, True)
    return endpoint
