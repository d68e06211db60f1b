"""Where an actor reaches immunization records: the same rule as ``policy.can``, as SQL.

Dose records and adverse event reports carry the region and facility they were made in
(copied from the dose), so a staff member's list is one WHERE clause.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, true

from vaxport.core.errors import Forbidden
from vaxport.core.i18n import N_
from vaxport.identity.service import Actor


def staff_only(actor: Actor) -> None:
    """403 for citizens on staff lists: they read their members' records by member."""
    if actor.kind != "staff":
        raise Forbidden(N_("this list is for staff: read your family's records by member"))


def staff_filter(actor: Actor, model: Any) -> ColumnElement[bool]:
    """The rows of ``model`` (with ``region_code`` and ``facility_id``) ``actor`` reaches."""
    if actor.kind != "staff":
        return false()
    if actor.is_national:
        return true()
    if actor.facility_id is not None:
        return model.facility_id == actor.facility_id  # type: ignore[no-any-return]
    codes = actor.region_filter_codes()
    if not codes:
        return false()
    return model.region_code.in_(sorted(codes))  # type: ignore[no-any-return]
