"""Every route with a JSON body survives hostile JSON (issue 12, finding 6).

``[`` * 100,000 used to answer 500 with two tracebacks, before authentication, and
5,000-deep objects reset the connection. The walk takes the routes from the app, so a
route added later is walked too: each gets deep arrays, deep objects and roots of the
wrong type, unauthenticated and (where a recipe knows how to call it) as its recipe's
caller, and must answer 4xx problem+json with no traceback logged.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from fastapi import params
from fastapi.routing import APIRoute

from tests.security.routes import RECIPES, Call, load_recipes
from tests.security.world import World
from vaxport.core.http.dependencies import iter_routes
from vaxport.core.http.json_body import MAX_DEPTH, TooDeepError, check_depth

HOSTILE: dict[str, bytes] = {
    "deep array": b"[" * 100_000,
    "deep closed array": b"[" * 5_000 + b"]" * 5_000,
    "deep object": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    "just past the limit": b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
    "number root": b"1",
    "string root": b'"x"',
    "null root": b"null",
    "array root": b"[]",
    "boolean root": b"true",
}


def json_routes(app: Any) -> list[tuple[str, str]]:
    """``(method, path)`` of every route of ``app`` that takes a JSON body."""
    return [(method, path) for method, path, _required in _json_routes(app)]


def _json_routes(app: Any) -> list[tuple[str, str, bool]]:
    found = []
    for path, route, _deps in iter_routes(app.routes):
        if not isinstance(route, APIRoute) or route.body_field is None:
            continue
        if isinstance(route.body_field.field_info, (params.Form, params.File)):
            continue
        required = bool(route.body_field.field_info.is_required())
        found.extend((method, path, required) for method in sorted(route.methods or ()))
    return found


def test_depth_is_counted_outside_strings_only() -> None:
    check_depth(b'{"a": "' + b"[" * 1_000 + b'\\"{"}')
    check_depth(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    with pytest.raises(TooDeepError):
        check_depth(b"[" * (MAX_DEPTH + 1))


async def test_every_json_route_refuses_hostile_json(
    app: Any, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    load_recipes()
    optional = {(m, p) for m, p, required in _json_routes(app) if not required}
    routes = json_routes(app)
    assert len(routes) >= 20, "the walk found too few routes: is iter_routes still right?"
    failures: list[str] = []
    caplog.set_level(logging.WARNING)
    # Every recipe prepares first: the hostile bodies below count against rate limits a
    # recipe's own preparation (a code request, a login) would otherwise meet.
    prepared = {key: await RECIPES[key](world) for key in routes if key in RECIPES}
    statuses: dict[int, int] = {}
    for method, path in routes:
        calls = [Call()]
        if (method, path) in prepared:
            calls.append(prepared[(method, path)])
        for call in calls:
            url = path.format_map(_Params(tenant=world.tenant.code, **call.path))
            for name, body in HOSTILE.items():
                headers = {**call.headers, "content-type": "application/json"}
                started = time.perf_counter()
                resp = await world.client.request(method, url, headers=headers, content=body)
                took = time.perf_counter() - started
                kind = resp.headers.get("content-type", "")
                statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
                if name == "null root" and (method, path) in optional and resp.is_success:
                    continue  # no body where the body is optional: the call itself
                if not (400 <= resp.status_code < 500) or "problem+json" not in kind:
                    failures.append(f"{method} {path} [{name}]: {resp.status_code} {kind}")
                elif took > 2:
                    failures.append(f"{method} {path} [{name}]: took {took:.1f} s")
    assert not failures, "\n".join(failures)
    # Most answers must come from the body check, not from a gate before it.
    assert statuses.get(422, 0) > sum(statuses.values()) / 2, statuses
    tracebacks = [r.getMessage()[:200] for r in caplog.records if "Traceback" in _text(r)]
    assert not tracebacks, tracebacks


def _twice(body: dict[str, Any]) -> tuple[str, bytes] | None:
    """``body`` as JSON text with its first field sent again (the same value)."""
    first = next(iter(body))
    fields = [f"{json.dumps(k)}:{json.dumps(v)}" for k, v in [*body.items(), (first, body[first])]]
    return first, ("{" + ",".join(fields) + "}").encode()


def _nul(body: dict[str, Any]) -> tuple[str, bytes] | None:
    """``body`` with a NUL inside its first text field."""
    name = next((k for k, v in body.items() if isinstance(v, str)), None)
    if name is None:
        return None
    return name, json.dumps({**body, name: "a\x00" + body[name]}).encode()


def _boolean(body: dict[str, Any]) -> tuple[str, bytes] | None:
    """``body`` with ``true`` for its first number field (pydantic's lax mode read it as 1:
    ``"capacity_per_slot": true`` published sessions of one seat a slot)."""
    name = next(
        (k for k, v in body.items() if isinstance(v, int | float) and not isinstance(v, bool)),
        None,
    )
    if name is None:
        return None
    return name, json.dumps({**body, name: True}).encode()


SPOILED = {"a field sent twice": _twice, "a NUL in a text": _nul, "true for a number": _boolean}


@pytest.mark.parametrize("spoil", SPOILED)
async def test_every_json_route_refuses_a_spoiled_body_naming_the_field_and_writes_nothing(
    app: Any, world: World, spoil: str
) -> None:
    """Each recipe's own body, spoiled one way, must be a 422 naming the field and change no
    table. A repeated key: ``json.loads`` kept the last silently, where a proxy or a log
    may read the first. A NUL: PostgreSQL text cannot hold one and the audit log refused
    it (``POST /sync/batches`` with one in ``device_id`` answered 500)."""
    from tests.security.test_target_reach_walk import _digest

    load_recipes()
    routes = [k for k in json_routes(app) if k in RECIPES]
    failures: list[str] = []
    walked = 0
    for method, path in routes:
        call = await RECIPES[method, path](world)
        spoiled = SPOILED[spoil](call.json) if isinstance(call.json, dict) and call.json else None
        if spoiled is None:
            continue
        walked += 1
        field, content = spoiled
        url = path.format_map(_Params(tenant=world.tenant.code, **call.path))
        headers = {**call.headers, "content-type": "application/json"}
        before = await _digest(world)
        resp = await world.client.request(
            method, url, headers=headers, content=content, params=call.params
        )
        changed = sorted(t for t, d in (await _digest(world)).items() if before[t] != d)
        problem = "problem+json" in resp.headers.get("content-type", "")
        named = [e.get("field") for e in resp.json().get("errors", [])] if problem else []
        if resp.status_code != 422 or not problem:
            failures.append(f"{method} {path}: {resp.status_code} {resp.text[:160]}")
        elif field not in named:
            failures.append(f"{method} {path}: names {named}, not {field}")
        if changed:
            failures.append(f"{method} {path}: changed {changed}")
    assert walked >= (4 if spoil == "true for a number" else 15), f"too few bodies: {walked}"
    assert not failures, "\n".join(failures)


def _text(record: logging.LogRecord) -> str:
    return record.getMessage() + (str(record.exc_info) if record.exc_info else "")


class _Params(dict[str, Any]):
    """Path parameters a call did not give get a well-formed id nobody holds."""

    def __missing__(self, key: str) -> str:
        return "00000000-0000-4000-8000-000000000000"
