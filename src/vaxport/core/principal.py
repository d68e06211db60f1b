"""Who acts, as core names them: an id, a role and a kind, nothing about the domain.

Core's writers (the audit log first) take a :class:`Principal` instead of loose
``actor_id``/``actor_role`` pairs. Identity's ``Actor`` (and its accounts) provide one;
the worker and the command line act as :data:`SYSTEM` and :data:`OPERATOR`; a caller not
yet known (a failed login) as :data:`ANONYMOUS`.

No tenant: a principal acts in the tenant of the unit of work it writes in, and the
system principals act in every tenant.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

PrincipalKind = Literal["staff", "citizen", "system", "anonymous"]
_WITH_ID = frozenset({"staff", "citizen"})


@dataclass(frozen=True, slots=True)
class Principal:
    """An account (staff or citizen, with its id) or a nameless system or anonymous caller."""

    id: uuid.UUID | None
    role: str
    kind: PrincipalKind

    def __post_init__(self) -> None:
        # An account acts under its id; a system or anonymous caller has none to give.
        if self.kind in _WITH_ID and self.id is None:
            raise ValueError(f"a {self.kind} principal acts under its account id")
        if self.kind not in _WITH_ID and self.id is not None:
            raise ValueError(f"a {self.kind} principal has no account id")

    @classmethod
    def staff_or_system(cls, account_id: uuid.UUID | None, role: str) -> Principal:
        """A staff account, or the system under ``role`` when no account acts."""
        return cls(account_id, role, "staff" if account_id is not None else "system")


SYSTEM = Principal(None, "system", "system")
"""The worker and other unattended jobs."""
OPERATOR = Principal(None, "operator", "system")
"""The installation's operator, at the command line."""
ANONYMOUS = Principal(None, "anonymous", "anonymous")
"""A caller who has not (or not successfully) said who they are."""
