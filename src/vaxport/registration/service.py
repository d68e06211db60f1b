"""Use cases of the registration context (one import for routes, pages, CLI and others).

The use cases live by concept: ``members.py`` (register, walk-in), ``reads.py`` (get,
list, search), ``changes.py`` (update, erase), ``claims.py`` (claim a record),
``contacts.py`` (a citizen's contact change by one-time code),
``person.py`` (subject-access export and erasure by operators). Every person enters by
``intake.add_members`` (bulk import too); shared row-level steps are in ``writes.py``;
validation of one person in ``validation.py``.
"""

from __future__ import annotations

from vaxport.registration.changes import RetainedRecord, delete_member, update_member
from vaxport.registration.claims import claim_member, request_claim_code
from vaxport.registration.contact_changes import request_contact_code
from vaxport.registration.members import FamilyFull, register_member, register_walk_in
from vaxport.registration.person import erase_person, export_person, find_person
from vaxport.registration.reads import get_member, list_members, search_members
from vaxport.registration.writes import AlreadyRegistered

__all__ = [
    "AlreadyRegistered",
    "FamilyFull",
    "RetainedRecord",
    "claim_member",
    "delete_member",
    "erase_person",
    "export_person",
    "find_person",
    "get_member",
    "list_members",
    "register_member",
    "register_walk_in",
    "request_claim_code",
    "request_contact_code",
    "search_members",
    "update_member",
]
