"""The OpenAPI document an integrator reads: security per operation, an example per body."""

from __future__ import annotations

from typing import Any

import jsonschema

from vaxport.app import create_app
from vaxport.settings import Settings

_METHODS = ("get", "put", "post", "delete", "patch")
BINARY = {"type": "string", "format": "binary"}


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in _METHODS
    ]


def _examples(doc: dict[str, Any], media: dict[str, Any]) -> list[Any]:
    """The examples of a media type, or of the model its schema names (through anyOf)."""
    if "example" in media:
        return [media["example"]]
    if "examples" in media:
        return [e["value"] for e in media["examples"].values()]
    found: list[Any] = []
    pending = [media.get("schema") or {}]
    while pending:
        schema = pending.pop()
        found += schema.get("examples", [])
        if "$ref" in schema:
            pending.append(doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
        pending += schema.get("anyOf", [])
    return found


def test_every_request_body_has_an_example_that_its_schema_accepts(settings: Settings) -> None:
    doc = create_app(settings).openapi()
    checked = 0
    for method, path, op in _operations(doc):
        for media_type, media in op.get("requestBody", {}).get("content", {}).items():
            where = f"{method} {path} {media_type}"
            if media.get("schema") == BINARY:
                continue  # a spreadsheet upload: no text can show it
            examples = _examples(doc, media)
            assert examples, f"{where}: no example"
            schema = {**(media.get("schema") or {}), "components": doc["components"]}
            for example in examples:
                jsonschema.validate(
                    example,
                    schema,
                    cls=jsonschema.Draft202012Validator,
                    format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
                )
            checked += 1
    assert checked >= 30  # the walk found the API's bodies (36 operations take one)


def test_operations_declare_their_security(settings: Settings) -> None:
    doc = create_app(settings).openapi()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["sessionCookie"]["in"] == "cookie"
    assert schemes["csrfHeader"] | {"description": ""} == {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRF-Token",
        "description": "",
    }
    ops = {(m, p): op for m, p, op in _operations(doc)}
    for key, op in ops.items():
        assert "security" in op, key
    # Public: the directory, sign-in, health. Protected: bearer or cookie + CSRF header.
    assert ops[("GET", "/api/v1/{tenant}/facilities")]["security"] == []
    assert ops[("POST", "/api/v1/{tenant}/auth/code")]["security"] == []
    assert ops[("POST", "/api/v1/{tenant}/beneficiaries")]["security"] == [
        {"bearerAuth": []},
        {"sessionCookie": [], "csrfHeader": []},
    ]
    protected = [k for k, op in ops.items() if op["security"]]
    public = [k for k, op in ops.items() if not op["security"]]
    assert len(protected) > len(public) > 3
