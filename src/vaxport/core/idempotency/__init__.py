"""``Idempotency-Key``: a retried state-changing request gets the first answer, changes nothing.

Front door of the idempotency store. The app installs :class:`IdempotencyMiddleware`;
routes mark their answers with :func:`answer_concerns` (a person's answer, sealed under
their key) and :func:`withhold_from_replay` (secret fields never kept); the worker runs
:func:`purge_expired`. See ``middleware`` for the protocol and ``store`` for what rests
in the table (nothing personal or secret in clear).
"""

from __future__ import annotations

from vaxport.core.idempotency.claim import (
    Claim,
    Keep,
    KeyTaken,
    claim_of,
    claims_in_transaction,
    kept_created,
)
from vaxport.core.idempotency.marks import answer_concerns, withhold_from_replay
from vaxport.core.idempotency.middleware import (
    FIELD,
    HEADER,
    IdempotencyMiddleware,
    TenantOf,
    caller_scope,
    fingerprint,
    scope_hash,
    tenant_segment,
)
from vaxport.core.idempotency.store import DONE, IN_PROGRESS, IdempotencyKey, purge_expired

__all__ = [
    "DONE",
    "FIELD",
    "HEADER",
    "IN_PROGRESS",
    "Claim",
    "IdempotencyKey",
    "IdempotencyMiddleware",
    "Keep",
    "KeyTaken",
    "TenantOf",
    "answer_concerns",
    "caller_scope",
    "claim_of",
    "claims_in_transaction",
    "fingerprint",
    "kept_created",
    "purge_expired",
    "scope_hash",
    "tenant_segment",
    "withhold_from_replay",
]
