"""Every route that checks a secret is in the ``login`` rate class (issue 12, finding 3).

Staff login routes were once left in the ``write`` class (1,200 a minute per address)
instead of ``login`` (30). This walk takes the routes from the app itself, so a route
added later is walked too. A route *checks a secret* when:

* one of its parameters (JSON body fields, nested models included, form fields, query,
  path, header and cookie parameters) is named like a secret (:data:`SECRET_NAME`:
  ``password``, ``current_password``, ``code``, ``factor_code``, ``ticket``,
  ``refresh_token``, ``token``...), or
* it is listed in :data:`CHECKS_SECRET` (a secret the names do not show, e.g. the ID
  number and birth date of an account recovery).

Such a route must be answered in the ``login`` class (or ``code_request``, stricter
still and also failing closed, for a route that sends codes as well), as the
middleware would classify a real request, unless :data:`NOT_A_CHECK` says why its
secret-named parameter is not checked here. The test fails naming the route.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute

from tests.security.routes import parameter_names
from vaxport.core.http.dependencies import iter_routes, route_class_marker
from vaxport.core.http.route_policy import RouteTable

SECRET_NAME = re.compile(
    r"(^|_)(password|passphrase|passcode|secret|token|ticket|otp|totp|pin)(_|$)"
    r"|^code$|^(factor|recovery|claim|undo|activation|verification|contact|login)_code$",
    re.IGNORECASE,
)
CREDENTIAL_CLASSES = frozenset({"login", "code_request"})

RouteKey = tuple[str, str]  # (method, path template)

# Routes that check a secret their parameter names do not show.
CHECKS_SECRET: dict[RouteKey, str] = {
    ("POST", "/api/v1/{tenant}/auth/recovery"): (
        "id-dob recovery checks an ID number and birth date (a knowledge factor); it also "
        "sends codes, so it is in code_request"
    ),
    ("POST", "/{tenant}/recover"): "the recovery page: the same check as /auth/recovery",
    ("POST", "/{tenant}/family/{beneficiary_id}/contact/confirm"): (
        "checks the one-time code sent to a new phone or e-mail; the page reads its form "
        "itself, so the walk cannot see the field's name"
    ),
}

# Routes with a secret-named parameter that is not a secret they check, or a check capped
# elsewhere, each with its reason (a reviewer reads these).
NOT_A_CHECK: dict[RouteKey, str] = {
    ("GET", "/{tenant}/recover/undo"): (
        "only renders the confirmation form with the undo code from the link; the code is "
        "checked by POST /{tenant}/recover/undo, which is in the login class"
    ),
    ("POST", "/api/v1/{tenant}/facilities"): (
        "`code` is the facility's own public code in the directory, not a credential"
    ),
    ("PATCH", "/api/v1/{tenant}/beneficiaries/{beneficiary_id}"): (
        "the general update of a person, used by staff all day (the login class allows 10 "
        "a minute per account); its optional contact_code is verified by otp.verify_code, "
        "capped at 5 wrong tries per code and per destination, so the class adds nothing"
    ),
    ("GET", "/{tenant}/staff/activate"): (
        "only renders the form with the invitation token in a hidden field; the token is "
        "checked by POST /{tenant}/staff/activate, which is in the login class"
    ),
    ("GET", "/api/v1/{tenant}/sessions/{session_id}/tickets/{ticket_id}"): (
        "`ticket_id` names a release-queue ticket (a random draw's entry), an object read "
        "under the caller's scope like any other (404 outside it), not a credential"
    ),
    ("GET", "/api/v1/{tenant}/appointments/by-code/{code}"): (
        "a booking code looked up by signed-in staff, answered only inside their reach, "
        "where the day's list shows the same appointments: the code grants nothing they "
        "lack (not a credential), and a centre's desk looks one up per arrival all day"
    ),
    ("GET", "/{tenant}/staff/today"): "the today page's code search: as /appointments/by-code",
}


def _secret_routes(app: Any) -> Iterator[tuple[str, str, list[str], str | None]]:
    """``(method, path, secret-named parameters, declared class)`` of every API route."""
    for path, route, dependencies in iter_routes(app.routes):
        if not isinstance(route, APIRoute):
            continue
        secrets = sorted({n for n in parameter_names(route.dependant) if SECRET_NAME.search(n)})
        declared, _ = route_class_marker(dependencies)
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            yield method, path, secrets, declared


def _effective_class(app: Any, method: str, path: str) -> str:
    """The class the middleware gives a request to this route (parameters filled in)."""
    table = RouteTable(app.router, max_body_bytes=1, upload_max_bytes=1)
    concrete = re.sub(r"\{[^}]+\}", "x1", path)
    scope = {"type": "http", "method": method, "path": concrete, "root_path": ""}
    return table.policy(scope).rate_class


def test_every_route_that_checks_a_secret_is_in_the_login_class(app: Any) -> None:
    walked = list(_secret_routes(app))
    keys = {(method, path) for method, path, _, _ in walked}
    assert len(keys) >= 50, "the walk found too few routes: is iter_routes still right?"
    checking = [
        (method, path, secrets)
        for method, path, secrets, _ in walked
        if (secrets and (method, path) not in NOT_A_CHECK) or (method, path) in CHECKS_SECRET
    ]
    assert len(checking) >= 10, "too few secret-checking routes found: is SECRET_NAME right?"
    wrong = []
    for method, path, secrets in checking:
        found = _effective_class(app, method, path)
        if found not in CREDENTIAL_CLASSES:
            why = ", ".join(secrets) if secrets else CHECKS_SECRET[(method, path)]
            wrong.append(f"  {method} {path}: class {found!r}; secret: {why}")
    assert not wrong, (
        f"{len(wrong)} route(s) check a secret outside the login rate class:\n"
        + "\n".join(wrong)
        + '\nDeclare it with requires(..., rate="login") (see docs/security-testing.md), or '
        "if the secret-named parameter is not checked there, add a NOT_A_CHECK reason."
    )
    stale = sorted((set(CHECKS_SECRET) | set(NOT_A_CHECK)) - keys)
    assert not stale, f"declarations for routes that no longer exist: {stale}"
    unused = sorted(
        key for key in NOT_A_CHECK if not any(s for m, p, s, _ in walked if (m, p) == key)
    )
    assert not unused, f"NOT_A_CHECK entries without a secret-named parameter: {unused}"


def test_the_staff_login_routes_are_walked_and_in_the_login_class(app: Any) -> None:
    """The routes of the finding itself, by name: the walk must see each as a check."""
    found = {(m, p): (s, _effective_class(app, m, p)) for m, p, s, _ in _secret_routes(app)}
    for route in [
        ("POST", "/api/v1/{tenant}/auth/login"),
        ("POST", "/api/v1/{tenant}/auth/second-factor"),
        ("POST", "/api/v1/{tenant}/auth/refresh"),
        ("POST", "/api/v1/{tenant}/auth/enrolment"),
        ("POST", "/api/v1/{tenant}/auth/enrolment/confirm"),
        ("POST", "/api/v1/{tenant}/auth/activate"),
        ("POST", "/{tenant}/staff/login"),
        ("POST", "/{tenant}/staff/login/code"),
        ("POST", "/{tenant}/staff/activate"),
    ]:
        secrets, rate = found[route]
        assert secrets, f"{route} carries no secret-named parameter: the walk would miss it"
        assert rate == "login", route
