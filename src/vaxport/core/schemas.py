"""Base pydantic models: request bodies refuse unknown fields; responses are allow-lists."""

from __future__ import annotations

import types
import typing
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator


def _is_number(annotation: Any) -> bool:
    """``int``/``float``, alone or with ``None`` (``int | None``, ``Optional[float]``)."""
    if annotation in (int, float):
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return len(args) == 1 and _is_number(args[0])
    if typing.get_origin(annotation) is typing.Annotated:
        return _is_number(typing.get_args(annotation)[0])
    return False


class RequestModel(BaseModel):
    """A request body or query model: unknown fields are a 422, strings are trimmed, and
    ``true``/``false`` is not a number (pydantic's lax mode reads ``true`` as 1: a client
    sending ``"capacity_per_slot": true`` meant something else, so it is told, by field)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # The keys (aliases) of the number fields, found once per model class.
    _number_keys: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._number_keys = tuple(
            field.alias or name
            for name, field in cls.model_fields.items()
            if _is_number(field.annotation)
        )

    @model_validator(mode="before")
    @classmethod
    def _booleans_are_not_numbers(cls, data: Any) -> Any:
        if cls._number_keys and isinstance(data, dict):
            for key in cls._number_keys:
                if type(data.get(key)) is bool:
                    # As text it fails the number's own check, which names the field.
                    data = {**data, key: str(data[key]).lower()}
        return data


class ResponseModel(BaseModel):
    """A response: only declared fields leave the server."""

    model_config = ConfigDict(extra="ignore", from_attributes=True)


def example(value: dict[str, Any]) -> ConfigDict:
    """A request model's config with ``value`` as its OpenAPI example (shown in /api/docs;
    a test checks every request body has one and that it validates)."""
    return ConfigDict(json_schema_extra={"examples": [value]})
