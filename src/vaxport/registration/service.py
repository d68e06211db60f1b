"""Use cases of the registration context (one import for routes, pages, CLI and others).

The use cases live by concept: ``members.py`` (register, walk-in), ``reads.py`` (get,
list, search), ``changes.py`` (update, erase), ``claims.py`` (claim a record),
``contact_changes.py`` (a citizen's contact change by one-time code),
``person.py`` (subject-access export and erasure by operators), ``records.py`` (a
person's record for a context exchanging it, read in the caller's transaction),
``vaccination.py`` (a dose marks the person vaccinated; the records merged into a
survivor), ``scheduling_facts.py`` and ``facts_read.py`` (a person's facts for booking
and vaccination, the latter as columns of the caller's own statement), ``names.py``
(names by id for another context's staff list, which authorizes and audits the read
itself). Every person enters by ``intake.add_members`` (bulk import too); shared
row-level steps are in ``writes.py``; validation of one person in ``validation.py``.
Review work (corrections, possible duplicates) is in ``review/``,
bulk imports in ``imports/``.

This is the context's front door: other contexts and the pages import only this module.
"""

from __future__ import annotations

from vaxport.registration.changes import RetainedRecord, delete_member, update_member
from vaxport.registration.claims import claim_member, request_claim_code
from vaxport.registration.contact_changes import request_contact_code
from vaxport.registration.declared import KINDS as DECLARED_KINDS
from vaxport.registration.declared import MAX_DECLARED
from vaxport.registration.elsewhere import ElsewhereMatch, match_elsewhere
from vaxport.registration.export_sections import SectionExporter, install_export_sections

# What scheduling and immunization read about a person they book or vaccinate (scope and
# eligibility facts), alone or as columns of their own statement.
from vaxport.registration.facts import PersonFacts
from vaxport.registration.facts_read import PersonRead, person_read
from vaxport.registration.intake import NewMember
from vaxport.registration.members import (
    FamilyFull,
    add_walk_ins,
    check_walk_in,
    kept_answer,
    register_member,
    register_walk_in,
)
from vaxport.registration.models import SEXES
from vaxport.registration.names import PersonName, names_of
from vaxport.registration.person import erase_person, export_person, find_person
from vaxport.registration.reads import (
    get_member,
    list_members,
    search_members,
)

# What a context exchanging a person's record reads (immunization's FHIR Patient).
from vaxport.registration.records import PersonRecord, holder_record, person_record
from vaxport.registration.review.correction_queue import get_for_review as get_correction_for_review
from vaxport.registration.review.correction_queue import list_pending as list_pending_corrections
from vaxport.registration.review.corrections import decide as decide_correction
from vaxport.registration.review.corrections import history as correction_history
from vaxport.registration.review.corrections import request_correction
from vaxport.registration.review.corrections import withdraw as withdraw_correction
from vaxport.registration.review.merging import compare as compare_duplicates
from vaxport.registration.review.merging import dismiss as dismiss_duplicate
from vaxport.registration.review.merging import list_flags as list_duplicate_flags
from vaxport.registration.review.merging import merge_flag
from vaxport.registration.review.merging import undo as undo_merge
from vaxport.registration.scheduling_facts import person_facts, person_in_reach
from vaxport.registration.schemas import (
    ClaimIn,
    ContactCodeIn,
    MemberIn,
    MemberOut,
    MemberUpdate,
    WalkInIn,
)
from vaxport.registration.vaccination import (
    created_by_of,
    mark_vaccinated,
    marking_many_vaccinated,
    marking_vaccinated,
    with_merged,
)
from vaxport.registration.validation import GUARDIAN_RELATIONS
from vaxport.registration.writes import (
    AlreadyRegistered,
    ReferenceTakenError,
    disclosure_budget,
)

__all__ = [
    "DECLARED_KINDS",
    "GUARDIAN_RELATIONS",
    "MAX_DECLARED",
    "SEXES",
    "AlreadyRegistered",
    "ClaimIn",
    "ContactCodeIn",
    "ElsewhereMatch",
    "FamilyFull",
    "MemberIn",
    "MemberOut",
    "MemberUpdate",
    "NewMember",
    "PersonFacts",
    "PersonName",
    "PersonRead",
    "PersonRecord",
    "ReferenceTakenError",
    "RetainedRecord",
    "SectionExporter",
    "WalkInIn",
    "add_walk_ins",
    "check_walk_in",
    "claim_member",
    "compare_duplicates",
    "correction_history",
    "created_by_of",
    "decide_correction",
    "delete_member",
    "disclosure_budget",
    "dismiss_duplicate",
    "erase_person",
    "export_person",
    "find_person",
    "get_correction_for_review",
    "get_member",
    "holder_record",
    "install_export_sections",
    "kept_answer",
    "list_duplicate_flags",
    "list_members",
    "list_pending_corrections",
    "mark_vaccinated",
    "marking_many_vaccinated",
    "marking_vaccinated",
    "match_elsewhere",
    "merge_flag",
    "names_of",
    "person_facts",
    "person_in_reach",
    "person_read",
    "person_record",
    "register_member",
    "register_walk_in",
    "request_claim_code",
    "request_contact_code",
    "request_correction",
    "search_members",
    "undo_merge",
    "update_member",
    "with_merged",
    "withdraw_correction",
]
