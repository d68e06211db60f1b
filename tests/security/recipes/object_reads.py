"""Reads of one object, made from the write recipe that prepares the same object.

The outsiders' walk (``test_peer_walk.py``) calls every route naming an object in its
path; these reads give it the GETs that have no recipe of their own: each takes a write
recipe's object (its path and its owner's headers) and reads it instead of changing it.
"""

from __future__ import annotations

from typing import Any

from tests.security.recipes import (
    facilities,
    identity,
    lots_aefi,
    notifications,
    registration,
    scheduling_booking,
    scheduling_fairness,
    scheduling_sessions,
)
from tests.security.routes import Call, Recipe, read, send
from tests.security.world import World

BASE = "/api/v1/{tenant}"


def _auth(call: Call) -> dict[str, str]:
    return {k: v for k, v in call.headers.items() if k.lower() == "authorization"}


def reading(method: str, path: str, write: Recipe, *, sent: str | None = None) -> None:
    """Register ``method path`` as a read of the object ``write`` prepares (or, given the
    write's method in ``sent``, makes when sent as its owner)."""

    async def make(w: World) -> Call:
        call = await write(w)
        if sent is not None:
            made = await send(w, sent, path, call)
            assert made.status_code < 300, made.text
        return Call(path=call.path, headers=_auth(call))

    make.__name__ = f"read_{write.__name__}"
    read(method, path)(make)


def made_by(
    method: str, path: str, write_path: str, write: Recipe, param: str, pick: str = "id"
) -> None:
    """Register ``method path`` as a read of what ``write`` (sent as its owner) makes."""

    async def make(w: World) -> Call:
        call = await write(w)
        made = await send(w, "POST", write_path, call)
        assert made.status_code < 300, made.text
        answer: dict[str, Any] = made.json()
        return Call(path={**call.path, param: answer[pick]}, headers=_auth(call))

    make.__name__ = f"made_by_{write.__name__}"
    read(method, path)(make)


reading("GET", BASE + "/appointments/{appointment_id}", scheduling_booking.cancel)
reading("GET", BASE + "/sessions/{session_id}", scheduling_sessions.close)
reading("GET", BASE + "/lots/{lot_id}", lots_aefi.hold_lot)
reading("GET", BASE + "/beneficiaries/{beneficiary_id}", registration.erase)
reading("GET", BASE + "/beneficiaries/{beneficiary_id}/corrections", registration.ask_correction)
reading("GET", BASE + "/corrections/{correction_id}", registration.approve_correction)
reading("GET", BASE + "/duplicates/{flag_id}", registration.dismiss_duplicate)
reading("GET", BASE + "/facilities/{facility_id}", facilities.deactivate)
reading("GET", BASE + "/admin/facilities/{facility_id}", facilities.deactivate)
reading("GET", BASE + "/staff/{account_id}", identity.disable_staff)
reading(
    "GET",
    BASE + "/notifications/preferences/{subject_id}",
    notifications.put_preferences,
    sent="PUT",
)
made_by(
    "GET",
    BASE + "/sessions/{session_id}/tickets/{ticket_id}",
    BASE + "/sessions/{session_id}/tickets",
    scheduling_fairness.request_ticket,
    "ticket_id",
)
made_by(
    "GET",
    BASE + "/beneficiaries/imports/{import_id}",
    BASE + "/beneficiaries/imports",
    registration.import_people,
    "import_id",
)
made_by(
    "GET",
    BASE + "/beneficiaries/imports/{import_id}/errors",
    BASE + "/beneficiaries/imports",
    registration.import_people,
    "import_id",
)
