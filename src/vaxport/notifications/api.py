"""HTTP routes of the notifications context.

- ``GET /api/v1/{tenant}/messages/{id}``: delivery status for support staff (never the
  destination or the content);
- ``POST /api/v1/{tenant}/notifications/test``: an administrator checks a channel;
- ``GET|PUT /api/v1/{tenant}/notifications/preferences/{subject}``: a person's
  preferences (identity decides whose preferences a caller may see and change);
- ``POST /api/v1/{tenant}/notifications/callbacks/{channel}``: providers' delivery
  reports, public but authenticated by the provider's signature;
- ``GET /dev/messages``: what the console channel "sent", login codes included, so a
  person trying the demo can sign in. Mounted only when ``VAXPORT_ENV=development`` (and
  the handler refuses otherwise anyway).
"""

from __future__ import annotations

import uuid

import jinja2
from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, Response

from vaxport.core.errors import NotFound
from vaxport.core.http.dependencies import Ctx, requires
from vaxport.identity.service import CurrentActor
from vaxport.notifications import callbacks, preferences, support
from vaxport.notifications.schemas import (
    MessageStatusOut,
    PreferencesIn,
    PreferencesOut,
    TestMessageIn,
)

router = APIRouter(tags=["notifications"])
dev_router = APIRouter(tags=["development"], include_in_schema=False)

_PAGES = jinja2.Environment(
    loader=jinja2.PackageLoader("vaxport.notifications", "defaults"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


@router.get(
    "/api/v1/{tenant}/messages/{message_id}",
    dependencies=[requires("messages:read")],
    summary="A message's delivery status",
)
async def get_message(
    tenant: str, message_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> MessageStatusOut:
    """Status, channel, event, timestamps and reason code; never destination or body."""
    status = await support.get_message_or_404(
        db=ctx.db, tenant_id=actor.tenant_id, message_id=message_id, actor=actor
    )
    return MessageStatusOut.model_validate(status)


@router.post(
    "/api/v1/{tenant}/notifications/test",
    # Each test costs an SMS or e-mail: limited like sending a one-time code.
    dependencies=[requires("notifications:test", rate="code_request")],
    status_code=202,
    summary="Send a test message through the tenant's channel",
)
async def send_test(
    tenant: str, body: TestMessageIn, ctx: Ctx, actor: CurrentActor
) -> MessageStatusOut:
    """Queue the ``test_message`` template to ``to``; poll the returned message for its fate."""
    status = await support.send_test_message(
        db=ctx.db,
        cache=ctx.cache,
        tenant=tenant,
        to=body.to,
        kind=body.kind,
        locale=body.locale,
        actor=actor,
    )
    return MessageStatusOut.model_validate(status)


@router.get(
    "/api/v1/{tenant}/notifications/preferences/{subject_id}",
    dependencies=[requires("notifications:preferences:read")],
    summary="A person's notification preferences",
)
async def get_preferences(
    tenant: str, subject_id: uuid.UUID, ctx: Ctx, actor: CurrentActor
) -> PreferencesOut:
    """Preferred kind and opt-out of non-essential messages (defaults if never set)."""
    prefs = await preferences.get_preferences(
        db=ctx.db, tenant_id=actor.tenant_id, subject_id=subject_id, actor=actor
    )
    return PreferencesOut.model_validate(prefs)


@router.put(
    "/api/v1/{tenant}/notifications/preferences/{subject_id}",
    dependencies=[requires("notifications:preferences:write")],
    summary="Replace a person's notification preferences",
)
async def put_preferences(
    tenant: str, subject_id: uuid.UUID, body: PreferencesIn, ctx: Ctx, actor: CurrentActor
) -> PreferencesOut:
    """Login codes and certificate notices are sent whatever the opt-out says."""
    prefs = await preferences.update_preferences(
        db=ctx.db,
        tenant_id=actor.tenant_id,
        subject_id=subject_id,
        preferred_kind=body.preferred_kind,
        opt_out_non_essential=body.opt_out_non_essential,
        actor=actor,
    )
    return PreferencesOut.model_validate(prefs)


@router.post(
    "/api/v1/{tenant}/notifications/callbacks/{channel_name}",
    # Providers report from a few addresses at the rate they deliver: not the per-address
    # "write" budget meant for people. Unsigned reports cost one HMAC and are refused.
    dependencies=[requires("notifications:callbacks", public=True, rate="default")],
    status_code=204,
    summary="A provider's delivery report (signed by the provider)",
)
async def delivery_callback(tenant: str, channel_name: str, request: Request, ctx: Ctx) -> Response:
    """401 when unsigned or badly signed, 404 for an unknown channel or message."""
    await callbacks.record_delivery_report(
        db=ctx.db,
        cache=ctx.cache,
        settings=ctx.settings,
        tenant=tenant,
        channel_name=channel_name,
        headers={k.lower(): v for k, v in request.headers.items()},
        body=await request.body(),
        path=request.url.path,
        query=request.url.query,
    )
    return Response(status_code=204)


@dev_router.get("/dev/messages", dependencies=[requires("dev:messages", public=True)])
async def dev_messages(ctx: Ctx, limit: int = Query(50, ge=1, le=500)) -> HTMLResponse:
    """The console channel's latest messages (development only)."""
    if ctx.settings.env != "development":
        raise NotFound()
    messages = await support.list_console_messages(settings=ctx.settings, limit=limit)
    html = _PAGES.get_template("dev_messages.html").render(messages=messages, limit=limit)
    return HTMLResponse(
        html, headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex, nofollow"}
    )
