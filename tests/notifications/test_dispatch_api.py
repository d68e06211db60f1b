"""The notifications API: message status for support, test messages, preferences."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI, Request

from tests.notifications.dispatch_support import EMAIL, PHONE, notifications, queue, tenant_with
from vaxport.core.audit.service import list_entries
from vaxport.core.db import Database

pytestmark = pytest.mark.usefixtures("dispatch_env")
STAFF = uuid.uuid4()


@pytest.fixture
def granted(app: FastAPI) -> list[str]:
    """A stand-in for identity: every permission granted, each check recorded."""
    asked: list[str] = []

    async def check(request: Request, permission: str) -> None:
        asked.append(permission)
        request.state.principal_id = str(STAFF)
        request.state.principal_role = "support"

    app.state.permission_check = check
    return asked


async def test_support_sees_status_and_timestamps_never_destination_or_content(
    clean_db: Database, client: httpx.AsyncClient, granted: list[str]
) -> None:
    tenant = await tenant_with(clean_db, notifications())
    message_id = await queue(clean_db, tenant, to=PHONE, data={"tenant_name": "Demoland"})

    resp = await client.get(f"/api/v1/{tenant.code}/messages/{message_id}")

    assert resp.status_code == 200
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
    assert granted == ["messages:read"]


async def test_unknown_or_foreign_messages_are_404_and_bad_ids_422(
    clean_db: Database, client: httpx.AsyncClient, granted: list[str]
) -> None:
    mine = await tenant_with(clean_db, notifications())
    other = await tenant_with(clean_db, notifications())
    theirs = await queue(clean_db, other, to=PHONE)

    assert (await client.get(f"/api/v1/{mine.code}/messages/{theirs}")).status_code == 404
    assert (await client.get(f"/api/v1/{mine.code}/messages/{uuid.uuid4()}")).status_code == 404
    resp = await client.get(f"/api/v1/{mine.code}/messages/not-a-uuid")
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"].endswith("message_id")
    assert (await client.get(f"/api/v1/nosuch/messages/{theirs}")).status_code == 404


async def test_routes_refuse_callers_identity_has_not_authorised(
    clean_db: Database, client: httpx.AsyncClient
) -> None:
    tenant = await tenant_with(clean_db, notifications())
    subject = uuid.uuid4()
    for method, path, body in (
        ("GET", f"/api/v1/{tenant.code}/messages/{uuid.uuid4()}", None),
        ("POST", f"/api/v1/{tenant.code}/notifications/test", {"to": PHONE}),
        ("GET", f"/api/v1/{tenant.code}/notifications/preferences/{subject}", None),
        ("PUT", f"/api/v1/{tenant.code}/notifications/preferences/{subject}", {}),
    ):
        resp = await client.request(method, path, json=body)
        assert resp.status_code == 401, (method, path)


async def test_an_admin_queues_a_test_message_and_it_is_audited(
    clean_db: Database, client: httpx.AsyncClient, granted: list[str]
) -> None:
    tenant = await tenant_with(clean_db, notifications())

    resp = await client.post(
        f"/api/v1/{tenant.code}/notifications/test", json={"to": EMAIL, "locale": "fr"}
    )

    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert (body["status"], body["kind"], body["event"]) == ("queued", "email", "test_message")
    assert granted == ["notifications:test"]
    page = await list_entries(db=clean_db, tenant_id=tenant.id)
    [entry] = [e for e in page.items if e.action == "notifications.test_message"]
    assert (entry.actor_id, entry.actor_role, entry.object_id) == (STAFF, "support", body["id"])
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
    granted: list[str],
    body: dict[str, str],
    field: str,
) -> None:
    tenant = await tenant_with(clean_db, notifications())
    resp = await client.post(f"/api/v1/{tenant.code}/notifications/test", json=body)
    assert resp.status_code == 422
    assert field in [e["field"] for e in resp.json()["errors"]]
    assert "555" not in resp.text  # the refused value is not echoed


async def test_preferences_read_defaults_then_replace_with_audit(
    clean_db: Database,
    client: httpx.AsyncClient,
    granted: list[str],
) -> None:
    tenant = await tenant_with(clean_db, notifications())
    subject = uuid.uuid4()
    url = f"/api/v1/{tenant.code}/notifications/preferences/{subject}"

    first = await client.get(url)
    assert first.status_code == 200
    assert first.json() == {
        "subject_id": str(subject),
        "preferred_kind": None,
        "opt_out_non_essential": False,
        "updated_at": None,
    }
    put = await client.put(url, json={"preferred_kind": "email", "opt_out_non_essential": True})
    assert put.status_code == 200
    again = (await client.get(url)).json()
    assert (again["preferred_kind"], again["opt_out_non_essential"]) == ("email", True)
    assert granted == [
        "notifications:preferences:read",
        "notifications:preferences:write",
        "notifications:preferences:read",
    ]
    page = await list_entries(db=clean_db, tenant_id=tenant.id)
    [entry] = [e for e in page.items if e.action == "notifications.preferences_update"]
    assert entry.object_id == str(subject)
    assert entry.details == {"preferred_kind": "email", "opt_out_non_essential": True}


bad_preferences: list[tuple[dict[str, object], str]] = [
    ({"preferred_kind": "fax"}, "preferred_kind"),
    ({"opt_out_non_essential": "yes"}, "opt_out_non_essential"),
    ({"channel": "sms"}, "channel"),
]


@pytest.mark.parametrize(("body", "field"), bad_preferences)
async def test_bad_preferences_are_refused_and_change_nothing(
    clean_db: Database,
    client: httpx.AsyncClient,
    granted: list[str],
    body: dict[str, object],
    field: str,
) -> None:
    tenant = await tenant_with(clean_db, notifications())
    url = f"/api/v1/{tenant.code}/notifications/preferences/{uuid.uuid4()}"
    resp = await client.put(url, json=body)
    assert resp.status_code == 422
    assert field in [e["field"] for e in resp.json()["errors"]]
    assert (await client.get(url)).json()["updated_at"] is None
