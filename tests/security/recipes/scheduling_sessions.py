"""How to call the session routes successfully (see ``tests/security/routes.py``)."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from typing import Any

from tests.security.routes import Call, recipe
from tests.security.world import World

SESSIONS = "/api/v1/{tenant}/sessions"


def _body(w: World, facility: uuid.UUID) -> dict[str, Any]:
    today = dt.datetime.now(zoneinfo.ZoneInfo(w.tenant.config.timezone)).date()
    return {
        "facility_id": str(facility),
        "day": (today + dt.timedelta(days=3)).isoformat(),
        "start_time": "09:00",
        "end_time": "10:00",
        "product_id": "covid-mrna",
        "dose_numbers": [1],
        "capacity_per_slot": 2,
    }


async def _session(w: World) -> dict[str, Any]:
    """A session published by the administrator at a new centre: its answer."""
    made = await w.ok("POST", "/sessions", json=_body(w, await w.facility()), headers=w.admin_auth)
    answer: dict[str, Any] = made.json()
    return answer


@recipe("POST", SESSIONS)
async def publish(w: World) -> Call:
    return Call(headers=w.admin_auth, json=_body(w, await w.facility()))


@recipe("POST", SESSIONS + "/{session_id}/close")
async def close(w: World) -> Call:
    return Call(path={"session_id": (await _session(w))["id"]}, headers=w.admin_auth)


@recipe("POST", SESSIONS + "/{session_id}/cancel")
async def cancel(w: World) -> Call:
    return Call(path={"session_id": (await _session(w))["id"]}, headers=w.admin_auth)


@recipe("POST", SESSIONS + "/{session_id}/slots/{slot_id}/cancel")
async def cancel_slot(w: World) -> Call:
    made = await _session(w)
    return Call(
        path={"session_id": made["id"], "slot_id": made["slots"][0]["id"]}, headers=w.admin_auth
    )
