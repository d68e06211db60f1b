"""The notifications API: message status for support, test messages, preferences.

Callers log in for real (identity: password + TOTP); the permission table decides who may
call which route, the policy which objects they reach.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.identity.helpers import Staff, actor_for, api_login, bearer, make_staff
from tests.notifications.dispatch_support import EMAIL, PHONE, notifications, queue, tenant_with
from vaxport.audit.service import list_entries
from vaxport.core.db import Database
from vaxport.core.errors import NotFound
from vaxport.notifications import preferences, support
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

pytestmark = pytest.mark.usefixtures("dispatch_env")


@pytest.fixture
async def tenant(clean_db: Database) -> TenantInfo:
    return await tenant_with(clean_db, notifications())


async def _token(
    client: httpx.AsyncClient, db: Database, settings: Settings, tenant: TenantInfo, role: str
) -> dict[str, str]:
    person: Staff = await make_staff(db, settings, tenant, role=role)
    return bearer(str((await api_login(client, person))["access_token"]))


async def test_support_sees_status_and_timestamps_never_destination_or_content(
    clean_db: Database, client: httpx.AsyncClient, settings: Settings, tenant: TenantInfo
) -> None:
    message_id = await queue(clean_db, tenant, to=PHONE, data={"tenant_name": "Demoland"})
    auth = await _token(client, clean_db, settings, tenant, "support")

    resp = await client.get(f"/api/v1/{tenant.code}/messages/{message_id}", headers=auth)

    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {
        "id",
        "event",
        "kind",
        "channel",
        "status",
        "reason",
        "attempts",
        "urgent",
        "created_at",
        "due_at",
        "sent_at",
        "delivered_at",
        "updated_at",
    }
    assert (body["id"], body["status"], body["event"]) == (
        str(message_id),
        "queued",
        "test_message",
    )
    for secret in (PHONE, PHONE.lstrip("+"), "Demoland"):
        assert secret not in resp.text


async def test_unknown_or_foreign_messages_are_404_and_bad_ids_422(
    clean_db: Database, client: httpx.AsyncClient, settings: Settings, tenant: TenantInfo
) -> None:
    other = await tenant_with(clean_db, notifications())
    theirs = await queue(clean_db, other, to=PHONE)
    auth = await _token(client, clean_db, settings, tenant, "support")
    base = f"/api/v1/{tenant.code}/messages"

    assert (await client.get(f"{base}/{theirs}", headers=auth)).status_code == 404
    assert (await client.get(f"{base}/{uuid.uuid4()}", headers=auth)).status_code == 404
    resp = await client.get(f"{base}/not-a-uuid", headers=auth)
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"].endswith("message_id")
    # Another tenant's path: as if it did not exist.
    foreign = await client.get(f"/api/v1/{other.code}/messages/{theirs}", headers=auth)
    assert foreign.status_code == 404


async def test_roles_without_the_permission_are_refused(
    clean_db: Database, client: httpx.AsyncClient, settings: Settings, tenant: TenantInfo
) -> None:
    auth = await _token(client, clean_db, settings, tenant, "auditor")
    subject = uuid.uuid4()
    for method, path, body in (
        ("GET", f"/api/v1/{tenant.code}/messages/{uuid.uuid4()}", None),
        ("POST", f"/api/v1/{tenant.code}/notifications/test", {"to": PHONE}),
        ("GET", f"/api/v1/{tenant.code}/notifications/preferences/{subject}", None),
        ("PUT", f"/api/v1/{tenant.code}/notifications/preferences/{subject}", {}),
    ):
        anonymous = await client.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path)
        refused = await client.request(method, path, json=body, headers=auth)
        assert refused.status_code == 403, (method, path)


async def test_objects_out_of_the_actors_reach_look_missing(
    clean_db: Database, tenant: TenantInfo
) -> None:
    person, stranger = uuid.uuid4(), uuid.uuid4()
    message_id = await queue(clean_db, tenant, to=PHONE, subject_id=person)
    citizen = actor_for(tenant, "citizen", account_id=person, kind="citizen")
    intruder = actor_for(tenant, "citizen", account_id=stranger, kind="citizen")
    regional = actor_for(tenant, "support", region_code="NOR")

    national = actor_for(tenant, "support")
    seen = await support.get_message_or_404(
        db=clean_db, tenant_id=tenant.id, message_id=message_id, actor=national
    )
    assert seen.id == message_id
    for actor in (intruder, regional):  # someone else's; a person has no region: fail closed
        with pytest.raises(NotFound):
            await support.get_message_or_404(
                db=clean_db, tenant_id=tenant.id, message_id=message_id, actor=actor
            )
        with pytest.raises(NotFound):
            await preferences.get_preferences(
                db=clean_db, tenant_id=tenant.id, subject_id=person, actor=actor
            )
    saved = await preferences.update_preferences(
        db=clean_db,
        tenant_id=tenant.id,
        subject_id=person,
        preferred_kind="sms",
        opt_out_non_essential=True,
        actor=citizen,
    )
    assert saved.opt_out_non_essential  # one's own preferences
    mine = await preferences.get_preferences(
        db=clean_db, tenant_id=tenant.id, subject_id=person, actor=citizen
    )
    assert mine.preferred_kind == "sms"


async def test_an_admin_queues_a_test_message_and_it_is_audited(
    clean_db: Database, client: httpx.AsyncClient, settings: Settings, tenant: TenantInfo
) -> None:
    admin = await make_staff(clean_db, settings, tenant, role="national_admin")
    auth = bearer(str((await api_login(client, admin))["access_token"]))

    resp = await client.post(
        f"/api/v1/{tenant.code}/notifications/test",
        json={"to": EMAIL, "locale": "fr"},
        headers=auth,
    )

    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert (body["status"], body["kind"], body["event"]) == ("queued", "email", "test_message")
    page = await list_entries(db=clean_db, actor=actor_for(tenant, "auditor"))
    [entry] = [e for e in page.items if e.action == "notifications.test_message"]
    assert (entry.actor_id, entry.actor_role, entry.object_id) == (
        admin.id,
        "national_admin",
        body["id"],
    )
    assert entry.details == {"kind": "email"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": "+1 555"}, "to"),
        ({"to": PHONE, "kind": "fax"}, "kind"),
        ({"to": PHONE, "colour": "blue"}, "colour"),
        ({}, "to"),
    ],
)
async def test_a_bad_test_request_is_a_422_naming_the_field(
    clean_db: Database,
    client: httpx.AsyncClient,
    settings: Settings,
    tenant: TenantInfo,
    body: dict[str, str],
    field: str,
) -> None:
    auth = await _token(client, clean_db, settings, tenant, "national_admin")
    url = f"/api/v1/{tenant.code}/notifications/test"
    resp = await client.post(url, json=body, headers=auth)
    assert resp.status_code == 422
    assert field in [e["field"] for e in resp.json()["errors"]]
    assert "555" not in resp.text  # the refused value is not echoed


async def test_preferences_read_defaults_then_replace_with_audit(
    clean_db: Database, client: httpx.AsyncClient, settings: Settings, tenant: TenantInfo
) -> None:
    helper = await make_staff(clean_db, settings, tenant, role="support")
    auth = bearer(str((await api_login(client, helper))["access_token"]))
    subject = uuid.uuid4()
    url = f"/api/v1/{tenant.code}/notifications/preferences/{subject}"

    first = await client.get(url, headers=auth)
    assert first.status_code == 200, first.text
    assert first.json() == {
        "subject_id": str(subject),
        "preferred_kind": None,
        "opt_out_non_essential": False,
        "updated_at": None,
    }
    body = {"preferred_kind": "email", "opt_out_non_essential": True}
    put = await client.put(url, json=body, headers=auth)
    assert put.status_code == 200, put.text
    again = (await client.get(url, headers=auth)).json()
    assert (again["preferred_kind"], again["opt_out_non_essential"]) == ("email", True)
    page = await list_entries(db=clean_db, actor=actor_for(tenant, "auditor"))
    [entry] = [e for e in page.items if e.action == "notifications.preferences_update"]
    assert (entry.object_id, entry.actor_id, entry.actor_role) == (
        str(subject),
        helper.id,
        "support",
    )
    assert entry.details == body


bad_preferences: list[tuple[dict[str, object], str]] = [
    ({"preferred_kind": "fax"}, "preferred_kind"),
    ({"opt_out_non_essential": "yes"}, "opt_out_non_essential"),
    ({"channel": "sms"}, "channel"),
]


@pytest.mark.parametrize(("body", "field"), bad_preferences)
async def test_bad_preferences_are_refused_and_change_nothing(
    clean_db: Database,
    client: httpx.AsyncClient,
    settings: Settings,
    tenant: TenantInfo,
    body: dict[str, object],
    field: str,
) -> None:
    auth = await _token(client, clean_db, settings, tenant, "support")
    url = f"/api/v1/{tenant.code}/notifications/preferences/{uuid.uuid4()}"
    resp = await client.put(url, json=body, headers=auth)
    assert resp.status_code == 422
    assert field in [e["field"] for e in resp.json()["errors"]]
    assert (await client.get(url, headers=auth)).json()["updated_at"] is None
