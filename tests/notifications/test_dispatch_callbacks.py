"""Provider delivery reports: signed by the provider, applied to the right message.

Messages are really sent first (worker -> loopback gateway), so reports refer to what
the provider actually answered; then the report is POSTed to the app like a provider
would, signed (or not).
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.parse
import uuid

import httpx
import orjson
import pytest

from tests.notifications.dispatch_support import (
    PHONE,
    notifications,
    queue,
    row_of,
    run_worker,
    sms_http,
    tenant_with,
    twilio,
)
from tests.notifications.peers import Recorded, Reply, RunningHttpPeer
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.notifications import support
from vaxport.notifications.callbacks import twilio_signature
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

pytestmark = pytest.mark.usefixtures("dispatch_env")
TOKEN = "twilio-secret"  # what dispatch_env puts in TEST_TWILIO_TOKEN
CALLBACK_HOST = "https://vaxport.example.org"


async def _sent_via_twilio(
    db: Database, cache: Cache, settings: Settings, peer: RunningHttpPeer
) -> tuple[TenantInfo, uuid.UUID, str]:
    code = f"t{uuid.uuid4().hex[:6]}"
    callback = f"{CALLBACK_HOST}/api/v1/{code}/notifications/callbacks/twilio"
    tenant = await tenant_with(
        db, notifications(twilio(peer.url, status_callback=callback), sms="twilio"), code=code
    )
    peer.peer.default = Reply(201, {"sid": "SM0001"})
    message_id = await queue(db, tenant, to=PHONE)
    await run_worker(db, cache, settings)
    [req] = peer.peer.requests
    sent_callback = dict(urllib.parse.parse_qsl(req.body.decode()))["StatusCallback"]
    assert sent_callback == f"{callback}?ref={message_id}"
    return tenant, message_id, sent_callback


async def _twilio_report(
    client: httpx.AsyncClient,
    tenant: TenantInfo,
    fields: dict[str, str],
    *,
    query: str = "",
    signed_url: str | None = None,
    token: str = TOKEN,
    signature: str | None = None,
) -> httpx.Response:
    path = f"/api/v1/{tenant.code}/notifications/callbacks/twilio"
    url = f"{CALLBACK_HOST}{path}" + (f"?{query}" if query else "")
    sig = signature or twilio_signature(token, signed_url or url, list(fields.items()))
    return await client.post(
        path + (f"?{query}" if query else ""),
        content=urllib.parse.urlencode(fields),
        headers={"X-Twilio-Signature": sig, "Content-Type": "application/x-www-form-urlencoded"},
    )


async def test_a_signed_twilio_report_marks_the_message_delivered(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    http_peer: RunningHttpPeer,
    client: httpx.AsyncClient,
) -> None:
    tenant, message_id, _ = await _sent_via_twilio(clean_db, cache, fast, http_peer)
    fields = {"MessageSid": "SM0001", "MessageStatus": "delivered", "AccountSid": "AC1"}

    resp = await _twilio_report(client, tenant, fields, query=f"ref={message_id}")

    assert resp.status_code == 204, resp.text
    status = (await client.get(f"/api/v1/{tenant.code}/messages/{message_id}")).status_code
    assert status == 401  # the status route itself is not public
    row = await row_of(clean_db, tenant, message_id)
    assert row.status == "delivered"
    # Repeated (providers retry): still delivered, still 204.
    again = await _twilio_report(client, tenant, fields, query=f"ref={message_id}")
    assert again.status_code == 204


async def test_a_twilio_failure_report_without_our_reference_is_found_by_its_sid(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    http_peer: RunningHttpPeer,
    client: httpx.AsyncClient,
) -> None:
    tenant, message_id, _ = await _sent_via_twilio(clean_db, cache, fast, http_peer)
    fields = {"MessageSid": "SM0001", "MessageStatus": "undelivered", "ErrorCode": "30003"}

    resp = await _twilio_report(client, tenant, fields)

    assert resp.status_code == 204
    row = await row_of(clean_db, tenant, message_id)
    assert (row.status, row.reason) == ("failed", "twilio_30003")


async def test_a_late_failure_does_not_undo_a_delivery(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    http_peer: RunningHttpPeer,
    client: httpx.AsyncClient,
) -> None:
    tenant, message_id, _ = await _sent_via_twilio(clean_db, cache, fast, http_peer)
    ok = {"MessageSid": "SM0001", "MessageStatus": "delivered"}
    late = {"MessageSid": "SM0001", "MessageStatus": "failed", "ErrorCode": "30008"}
    assert (await _twilio_report(client, tenant, ok)).status_code == 204
    assert (await _twilio_report(client, tenant, late)).status_code == 204
    assert (await row_of(clean_db, tenant, message_id)).status == "delivered"


async def test_unsigned_badly_signed_or_unknown_reports_change_nothing(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    http_peer: RunningHttpPeer,
    client: httpx.AsyncClient,
) -> None:
    tenant, message_id, _ = await _sent_via_twilio(clean_db, cache, fast, http_peer)
    fields = {"MessageSid": "SM0001", "MessageStatus": "delivered"}
    path = f"/api/v1/{tenant.code}/notifications/callbacks/twilio"

    unsigned = await client.post(path, content=urllib.parse.urlencode(fields))
    assert unsigned.status_code == 401
    assert (await _twilio_report(client, tenant, fields, token="guessed")).status_code == 401
    tampered = await _twilio_report(
        client,
        tenant,
        {**fields, "MessageStatus": "failed"},
        signature=twilio_signature(TOKEN, f"{CALLBACK_HOST}{path}", list(fields.items())),
    )
    assert tampered.status_code == 401
    binary = await client.post(path, content=b"\xff\xfe", headers={"X-Twilio-Signature": "x"})
    assert binary.status_code == 401
    assert (await row_of(clean_db, tenant, message_id)).status == "sent"

    unknown = await _twilio_report(client, tenant, {"MessageSid": "SM9999", "MessageStatus": "x"})
    assert unknown.status_code == 404
    no_channel = await client.post(
        f"/api/v1/{tenant.code}/notifications/callbacks/nosuch", content=b"a=b"
    )
    assert no_channel.status_code == 404


async def test_a_missing_secret_is_a_503_not_a_500(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    http_peer: RunningHttpPeer,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant, _, _ = await _sent_via_twilio(clean_db, cache, fast, http_peer)
    monkeypatch.delenv("TEST_TWILIO_TOKEN")
    resp = await _twilio_report(client, tenant, {"MessageSid": "SM0001", "MessageStatus": "sent"})
    assert resp.status_code == 503


def _gateway_callback(**extra: object) -> dict[str, object]:
    return {
        "secret_env": "TEST_GATEWAY_SECRET",
        "signature_header": "X-Gateway-Signature",
        "timestamp_header": "X-Gateway-Timestamp",
        "reference_json_path": "ref",
        "message_id_json_path": "id",
        "status_json_path": "state",
        "delivered_values": ["DELIVRD"],
        "failed_values": ["UNDELIV", "REJECTD"],
        "error_json_path": "err",
        **extra,
    }


def _sign(raw: bytes, *, secret: str = "gateway-secret", at: int | None = None) -> dict[str, str]:
    stamp = str(at if at is not None else int(time.time()))
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return {"X-Gateway-Signature": f"sha256={mac}", "X-Gateway-Timestamp": stamp}


def _signed(
    body: dict[str, object], *, secret: str = "gateway-secret", at: int | None = None
) -> tuple[bytes, dict[str, str]]:
    raw = orjson.dumps(body)
    return raw, _sign(raw, secret=secret, at=at)


async def test_a_generic_gateway_report_signed_with_the_shared_secret(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    http_peer: RunningHttpPeer,
    client: httpx.AsyncClient,
) -> None:
    channel = sms_http(http_peer.url, delivery_callback=_gateway_callback())
    tenant = await tenant_with(clean_db, notifications(channel, sms="gateway"))
    http_peer.peer.default = Reply(200, {"id": "gw-7"})
    delivered = await queue(clean_db, tenant, to=PHONE, dedup_key="g:1")
    failed = await queue(clean_db, tenant, to="+14165550199", dedup_key="g:2")
    await run_worker(clean_db, cache, fast)
    path = f"/api/v1/{tenant.code}/notifications/callbacks/gateway"

    raw, headers = _signed({"ref": str(delivered), "state": "DELIVRD"})
    assert (await client.post(path, content=raw, headers=headers)).status_code == 204
    assert (await row_of(clean_db, tenant, delivered)).status == "delivered"

    raw, headers = _signed({"ref": str(failed), "state": "UNDELIV", "err": "absent"})
    assert (await client.post(path, content=raw, headers=headers)).status_code == 204
    row = await row_of(clean_db, tenant, failed)
    assert (row.status, row.reason) == ("failed", "gateway_absent")

    stale_raw, stale = _signed({"ref": str(delivered), "state": "UNDELIV"}, at=1_000_000_000)
    assert (await client.post(path, content=stale_raw, headers=stale)).status_code == 401
    forged_raw, forged = _signed({"ref": str(delivered), "state": "UNDELIV"}, secret="guess")
    assert (await client.post(path, content=forged_raw, headers=forged)).status_code == 401
    assert (await client.post(path, content=raw)).status_code == 401
    junk = b"not json"  # signed correctly, but not a report
    assert (await client.post(path, content=junk, headers=_sign(junk))).status_code == 422
    raw, headers = _signed({"ref": str(uuid.uuid4()), "state": "DELIVRD"})
    assert (await client.post(path, content=raw, headers=headers)).status_code == 404
    assert (await row_of(clean_db, tenant, delivered)).status == "delivered"


async def test_a_report_that_arrives_before_the_send_is_recorded_still_counts(
    clean_db: Database,
    cache: Cache,
    fast: Settings,
    http_peer: RunningHttpPeer,
    client: httpx.AsyncClient,
) -> None:
    code = f"t{uuid.uuid4().hex[:6]}"
    callback = f"{CALLBACK_HOST}/api/v1/{code}/notifications/callbacks/twilio"
    tenant = await tenant_with(
        clean_db,
        notifications(twilio(http_peer.url, status_callback=callback), sms="twilio"),
        code=code,
    )
    reports: list[int] = []

    async def report_first(req: Recorded) -> Reply:
        # The provider delivers and reports before our worker has read its answer.
        sent_to = dict(urllib.parse.parse_qsl(req.body.decode()))["StatusCallback"]
        query = sent_to.split("?", 1)[1]
        fields = {"MessageSid": "SM0009", "MessageStatus": "delivered"}
        resp = await _twilio_report(client, tenant, fields, query=query, signed_url=sent_to)
        reports.append(resp.status_code)
        return Reply(201, {"sid": "SM0009"})

    http_peer.peer.inspector = report_first
    message_id = await queue(clean_db, tenant, to=PHONE)

    await run_worker(clean_db, cache, fast)

    assert reports == [204]
    row = await row_of(clean_db, tenant, message_id)
    assert (row.status, row.provider_message_id) == ("delivered", "SM0009")
    status = await support.get_message_or_404(
        db=clean_db, tenant_id=tenant.id, message_id=message_id
    )
    assert status.sent_at is not None
    assert status.delivered_at is not None
