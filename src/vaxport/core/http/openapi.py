"""OpenAPI links: how one operation's answer names the object the next one takes.

Clients (and schemathesis' stateful and object-level authorization checks) follow links
from a create to the reads and changes of what it created. Contexts declare them by
method and path, next to their routes' own module or in a ``links`` module, as values
the composition root collects (nothing is registered by importing a module)::

    LINKS = (
        link("GetFacility", source=("POST", "/api/v1/{tenant}/facilities"), status="201",
             target=("GET", "/api/v1/{tenant}/facilities/{facility_id}"),
             parameters={"facility_id": "$response.body#/id"}),
    )

:func:`install` adds the links it is given to the app's generated document, resolving each
target to its ``operationId``; ``{tenant}`` is passed along from the request unless given.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from vaxport.core.http.dependencies import iter_routes, route_permission

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@dataclass(frozen=True, slots=True)
class Link:
    name: str
    source: tuple[str, str]
    status: str
    target: tuple[str, str]
    parameters: tuple[tuple[str, str], ...]


def link(
    name: str,
    *,
    source: tuple[str, str],
    status: str,
    target: tuple[str, str],
    parameters: dict[str, str],
) -> Link:
    """That ``source``'s ``status`` answer leads to ``target`` (see module doc)."""
    params = dict(parameters)
    if "{tenant}" in target[1]:
        params.setdefault("tenant", "$request.path.tenant")
    return Link(name, (source[0].upper(), source[1]), status, target, tuple(params.items()))


def link_resource(
    parameter: str,
    *,
    sources: dict[tuple[str, str, str], str],
    targets: dict[str, tuple[str, str]],
) -> tuple[Link, ...]:
    """The links from every answer naming one object to every operation taking it.

    ``sources`` maps ``(method, path, status)`` to where that answer holds the object's
    id (a runtime expression such as ``$response.body#/id``); ``targets`` maps link
    names to ``(method, path)`` of the operations whose ``parameter`` it fills.
    """
    return tuple(
        link(
            name,
            source=(method, path),
            status=status,
            target=target,
            parameters={parameter: where},
        )
        for (method, path, status), where in sources.items()
        for name, target in targets.items()
        if target != (method, path)
    )


def add_links(document: dict[str, Any], links: Iterable[Link]) -> dict[str, Any]:
    """``document`` with every link of ``links`` whose two operations it describes."""
    operations = {
        (method.upper(), path): operation
        for path, item in document.get("paths", {}).items()
        for method, operation in item.items()
        if method in _METHODS
    }
    # The last declaration of a (source, status, name) wins, as one response has one link
    # of a name.
    unique = {(item.source, item.status, item.name): item for item in links}
    for item in unique.values():
        source = operations.get(item.source)
        target = operations.get((item.target[0].upper(), item.target[1]))
        if source is None or target is None or "operationId" not in target:
            continue  # a route left out of the document (bench mode, development...)
        response = source.setdefault("responses", {}).setdefault(
            item.status, {"description": "Successful Response"}
        )
        response.setdefault("links", {})[item.name] = {
            "operationId": target["operationId"],
            "parameters": dict(item.parameters),
        }
    return document


@dataclass(frozen=True, slots=True)
class Security:
    """The API's security schemes and what an operation that is not public requires
    (alternatives: any one of the requirement objects will do)."""

    schemes: dict[str, Any]
    required: tuple[dict[str, list[str]], ...]


def add_security(document: dict[str, Any], routes: Any, security: Security) -> dict[str, Any]:
    """``document`` declaring ``security`` per operation: none on a public route (declared
    with ``requires(..., public=True)``), ``security.required`` on every other one."""
    public: dict[tuple[str, str], bool] = {}
    for path, route, dependencies in iter_routes(routes):
        marker = route_permission(route, dependencies)
        for method in getattr(route, "methods", None) or ():
            public[(method.lower(), path)] = marker is not None and marker[1]
    document.setdefault("components", {})["securitySchemes"] = dict(security.schemes)
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in _METHODS:
                is_public = public.get((method, path), False)
                operation["security"] = [] if is_public else [dict(r) for r in security.required]
    return document


def install(app: Any, links: Iterable[Link], security: Security | None = None) -> None:
    """Make ``app.openapi()`` carry ``links`` and ``security`` (generated once, then cached)."""
    generate = app.openapi
    links = tuple(links)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            made = add_links(generate(), links)
            if security is not None:
                made = add_security(made, app.routes, security)
            app.openapi_schema = made
        document: dict[str, Any] = app.openapi_schema
        return document

    app.openapi = openapi
