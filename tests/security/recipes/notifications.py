"""How to call the notifications' write routes successfully (see ``tests/security/routes.py``)."""

from __future__ import annotations

import uuid

from tests.security.routes import Call, recipe
from tests.security.world import PERSON, World


@recipe("POST", "/api/v1/{tenant}/notifications/test")
async def send_test(w: World) -> Call:
    return Call(headers=w.admin_auth, json={"to": PERSON.email})


@recipe("PUT", "/api/v1/{tenant}/notifications/preferences/{subject_id}")
async def put_preferences(w: World) -> Call:
    auth = await w.auth(await w.staff("support"))
    return Call(
        path={"subject_id": uuid.uuid4()},
        headers=auth,
        json={"preferred_kind": "email", "opt_out_non_essential": True},
    )
