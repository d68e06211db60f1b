"""How to call citizen login and recovery routes successfully (``tests/security/routes.py``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.identity.helpers import last_code, sent_codes
from tests.security.routes import Call, recipe
from tests.security.world import PERSON, World
from vaxport.notifications.models import Message

AUTH = "/api/v1/{tenant}/auth"


async def _sign_in(w: World, **destination: str) -> dict[str, Any]:
    asked = await w.ok("POST", "/auth/code", json=destination)
    code = await last_code(w.db, w.tenant.id)
    body = {"transaction_id": asked.json()["transaction_id"], "code": code}
    return dict((await w.ok("POST", "/auth/code/verify", json=body)).json())


# POST /auth/code and /auth/recovery are exempt (NOT_AUDITED); the recipes below call
# them while preparing, so the clean-logs walk still sends them the known values.


def _recovery(new_phone: str, email: str) -> dict[str, str]:
    return {"method": "email-code", "new_phone": new_phone, "email": email}


@recipe("POST", AUTH + "/code/verify")
async def verify_code(w: World) -> Call:
    asked = await w.ok("POST", "/auth/code", json={"phone": PERSON.phone})
    code = await last_code(w.db, w.tenant.id)
    return Call(json={"transaction_id": asked.json()["transaction_id"], "code": code})


@recipe("POST", AUTH + "/recovery/verify")
async def finish_recovery(w: World) -> Call:
    await _sign_in(w, email=PERSON.email_alt)  # codes are capped per destination
    recovery = _recovery("+1 613 555 0164", PERSON.email_alt)
    started = (await w.ok("POST", "/auth/recovery", json=recovery)).json()
    email_code, phone_code = (await sent_codes(w.db, w.tenant.id))[-2:]
    return Call(
        json={
            "transaction_id": started["transaction_id"],
            "code": phone_code,
            "factor_transaction_id": started["factor_transaction_id"],
            "factor_code": email_code,
        }
    )


@recipe("POST", AUTH + "/recovery/undo")
async def undo_recovery(w: World) -> Call:
    # An address of its own: codes are capped per destination, and other recipes use
    # PERSON's addresses.
    email = "undo.walk@example.org"
    await _sign_in(w, email=email)
    recovery = _recovery("+1 613 555 0191", email)
    started = (await w.ok("POST", "/auth/recovery", json=recovery)).json()
    email_code, phone_code = (await sent_codes(w.db, w.tenant.id))[-2:]
    body = {
        "transaction_id": started["transaction_id"],
        "code": phone_code,
        "factor_transaction_id": started["factor_transaction_id"],
        "factor_code": email_code,
    }
    await w.ok("POST", "/auth/recovery/verify", json=body)
    return Call(json={"code": await undo_code(w)})


async def undo_code(w: World) -> str:
    """The undo code of the latest recovery notice."""
    async with w.db.read(tenant_id=w.tenant.id) as s:
        notice = (
            await s.execute(
                select(Message)
                .where(Message.tenant_id == w.tenant.id, Message.event == "account_recovered")
                .order_by(Message.id.desc())
                .limit(1)
            )
        ).scalar_one()
        return str(notice.data["undo_code"])
