"""How to call identity's write routes successfully (see ``tests/security/routes.py``)."""

from __future__ import annotations

import datetime as dt
import uuid

from tests.security.routes import Call, read, recipe
from tests.security.world import PERSON, World
from vaxport.core import clock
from vaxport.identity.login import totp

AUTH = "/api/v1/{tenant}/auth"
ME = "/api/v1/{tenant}/me"
STAFF = "/api/v1/{tenant}/staff"
NEW_PASSWORD = "heron meadow softly 83"


def _next_step() -> dt.datetime:
    """A time in the next TOTP step: a fresh login has spent the current one."""
    return clock.utcnow() + dt.timedelta(seconds=totp.STEP_SECONDS)


async def _invite(w: World, role: str = "vaccinator") -> dict[str, object]:
    r = await w.ok(
        "POST",
        "/staff",
        json={"username": f"sec{uuid.uuid4().hex[:8]}", "role": role, "region_code": "NOR"},
        headers=w.admin_auth,
    )
    return dict(r.json())


@recipe("POST", AUTH + "/login")
async def login(w: World) -> Call:
    # A role without a second factor: the session opens here, audited. (With one, this
    # step only issues a ticket; the session opens, audited, at /second-factor.)
    person = await w.staff("analyst")
    return Call(json={"username": person.username, "password": person.password})


@recipe("POST", AUTH + "/second-factor")
async def second_factor(w: World) -> Call:
    person = await w.staff("vaccinator")
    r = await w.ok(
        "POST", "/auth/login", json={"username": person.username, "password": person.password}
    )
    assert r.json()["status"] == "totp_required"
    return Call(json={"ticket": r.json()["ticket"], "code": person.code()})


@recipe("POST", AUTH + "/enrolment/confirm")
async def enrolment_confirm(w: World) -> Call:
    person = await w.staff("vaccinator", enrol=False)
    r = await w.ok(
        "POST", "/auth/login", json={"username": person.username, "password": person.password}
    )
    assert r.json()["status"] == "enrolment_required", r.text
    ticket = r.json()["ticket"]
    secret = (await w.ok("POST", "/auth/enrolment", json={"ticket": ticket})).json()["secret"]
    return Call(json={"ticket": ticket, "code": totp.code_at(secret, clock.utcnow())})


@recipe("POST", AUTH + "/activate")
async def activate(w: World) -> Call:
    invited = await _invite(w)
    token = str(invited["activation_url"]).split("token=")[1]
    return Call(json={"token": token, "password": NEW_PASSWORD})


@recipe("POST", AUTH + "/logout")
async def logout(w: World) -> Call:
    return Call(headers=await w.auth(await w.staff("analyst")))


@recipe("POST", AUTH + "/reauthenticate")
async def reauthenticate(w: World) -> Call:
    person = await w.staff("vaccinator")
    auth = await w.auth(person)
    return Call(headers=auth, json={"password": person.password, "code": person.code(_next_step())})


@recipe("PATCH", ME)
async def update_me(w: World) -> Call:
    auth = await w.auth(await w.staff("analyst"))
    return Call(headers=auth, json={"display_name": PERSON.name})


@recipe("POST", ME + "/password")
async def change_password(w: World) -> Call:
    person = await w.staff("analyst")
    auth = await w.auth(person)
    return Call(
        headers=auth, json={"current_password": person.password, "new_password": NEW_PASSWORD}
    )


@recipe("POST", ME + "/totp/confirm")
async def confirm_totp_change(w: World) -> Call:
    auth = await w.auth(await w.staff("vaccinator"))
    secret = (await w.ok("POST", "/me/totp", headers=auth)).json()["secret"]
    return Call(headers=auth, json={"code": totp.code_at(secret, _next_step())})


@recipe("POST", ME + "/recovery-codes")
async def recovery_codes(w: World) -> Call:
    return Call(headers=await w.auth(await w.staff("vaccinator")))


@recipe("POST", STAFF)
async def invite_staff(w: World) -> Call:
    body = {
        "username": f"sec{uuid.uuid4().hex[:8]}",
        "role": "vaccinator",
        "region_code": "NOR",
        "display_name": PERSON.name,
        "email": PERSON.email,
        "phone": PERSON.phone,
    }
    return Call(headers=w.admin_auth, json=body)


@recipe("PATCH", STAFF + "/{account_id}")
async def change_staff(w: World) -> Call:
    person = await w.staff("vaccinator")
    return Call(path={"account_id": person.id}, headers=w.admin_auth, json={"role": "analyst"})


@recipe("POST", STAFF + "/{account_id}/disable")
async def disable_staff(w: World) -> Call:
    person = await w.staff("analyst")
    return Call(path={"account_id": person.id}, headers=w.admin_auth)


@recipe("POST", STAFF + "/{account_id}/enable")
async def enable_staff(w: World) -> Call:
    person = await w.staff("analyst")
    await w.ok("POST", f"/staff/{person.id}/disable", headers=w.admin_auth)
    return Call(path={"account_id": person.id}, headers=w.admin_auth)


@recipe("POST", STAFF + "/{account_id}/reset")
async def reset_staff(w: World) -> Call:
    person = await w.staff("analyst")
    return Call(path={"account_id": person.id}, headers=w.admin_auth)


@read("GET", STAFF)
async def list_staff(w: World) -> Call:
    return Call(headers=w.admin_auth, params={"limit": "200"})


@read("GET", ME)
async def get_me(w: World) -> Call:
    return Call(headers=await w.auth(await w.staff("analyst", display_name=PERSON.name)))
