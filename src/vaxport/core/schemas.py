"""Base pydantic models: request bodies refuse unknown fields; responses are allow-lists."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    """A request body or query model: unknown fields are a 422, strings are trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResponseModel(BaseModel):
    """A response: only declared fields leave the server."""

    model_config = ConfigDict(extra="ignore", from_attributes=True)


def example(value: dict[str, Any]) -> ConfigDict:
    """A request model's config with ``value`` as its OpenAPI example (shown in /api/docs;
    a test checks every request body has one and that it validates)."""
    return ConfigDict(json_schema_extra={"examples": [value]})
