"""Request and response bodies of the notifications API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import Field, StrictBool

from vaxport.core.schemas import RequestModel, ResponseModel, example


class MessageStatusOut(ResponseModel):
    """A message's delivery status: no destination, no content."""

    id: uuid.UUID
    event: str
    kind: str
    channel: str | None
    status: Literal["queued", "sending", "sent", "delivered", "failed", "cancelled"]
    reason: str | None = Field(description="why it failed or was cancelled (a stable code)")
    attempts: int
    urgent: bool
    created_at: dt.datetime
    due_at: dt.datetime
    sent_at: dt.datetime | None
    delivered_at: dt.datetime | None
    updated_at: dt.datetime


class TestMessageIn(RequestModel):
    """Send the ``test_message`` template to a destination through the tenant's channel."""

    model_config = example({"to": "ops@health.example", "kind": "email", "locale": "en"})

    __test__ = False  # not a pytest class, whatever its name says
    to: str = Field(min_length=3, max_length=320, description="phone number or e-mail address")
    kind: Literal["sms", "email"] | None = Field(
        default=None, description="default: e-mail when `to` contains '@', else SMS"
    )
    locale: str | None = Field(default=None, max_length=35)


class PreferencesIn(RequestModel):
    """A person's preferences, replaced as a whole."""

    model_config = example({"preferred_kind": "sms", "opt_out_non_essential": True})

    preferred_kind: Literal["sms", "email"] | None = None
    opt_out_non_essential: StrictBool = False


class PreferencesOut(ResponseModel):
    subject_id: uuid.UUID
    preferred_kind: Literal["sms", "email"] | None
    opt_out_non_essential: bool
    updated_at: dt.datetime | None
