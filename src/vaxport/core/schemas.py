"""Base pydantic models: request bodies refuse unknown fields; responses are allow-lists."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    """A request body or query model: unknown fields are a 422, strings are trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResponseModel(BaseModel):
    """A response: only declared fields leave the server."""

    model_config = ConfigDict(extra="ignore", from_attributes=True)
