"""A tenant with an administrator, driven through HTTP: what route recipes build on."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.facilities.helpers import body as facility_body
from tests.identity.helpers import Staff, api_login, bearer, make_staff
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.identity.access import policy
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

_SCOPES = {"region_code", "facility_id"}


@dataclass(frozen=True)
class Person:
    """Known personal values: recipes send these, the clean-logs walk looks for them."""

    given_name: str = "Fatoumata"
    family_name: str = "Quarshie-Lindqvist"
    email: str = "fatoumata.quarshie@example.org"
    # A second address: one-time codes are capped per destination (3 per 15 minutes).
    email_alt: str = "f.lindqvist@example.net"
    phone: str = "+1 613 555 0187"
    phone_e164: str = "+16135550187"
    # A valid national ID of the demo country (Luhn-checked) that is NOT one of the
    # examples its configuration publishes: the at-rest walk finds those in tenants.config.
    id_number: str = "7382164593"
    id_number_printed: str = "738 216 459 3"
    passport: str = "QX4821736"  # the demo country's passport format
    birth_date: str = "1984-03-09"

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def needles(self) -> dict[str, str]:
        """Each value in every spelling that must never reach a log line."""
        return {
            "given name": self.given_name,
            "family name": self.family_name,
            "e-mail": self.email,
            "e-mail (local part)": self.email.split("@")[0],
            "second e-mail": self.email_alt,
            "phone": self.phone,
            "phone (E.164)": self.phone_e164,
            "phone (national digits)": self.phone_e164[2:],
            "ID number": self.id_number,
            "ID number (printed)": self.id_number_printed,
            "passport number": self.passport,
        }


# Recipes put these wherever a route takes personal data (names, contacts, IDs...).
PERSON = Person()


@dataclass
class World:
    """One tenant, its national administrator and the app, as every recipe sees them."""

    client: httpx.AsyncClient
    db: Database
    cache: Cache
    settings: Settings
    tenant: TenantInfo
    admin: Staff
    admin_auth: dict[str, str]
    _made: int = field(default=0)

    @property
    def api(self) -> str:
        """The tenant's API prefix, ``/api/v1/<code>``."""
        return f"/api/v1/{self.tenant.code}"

    async def staff(self, role: str = "vaccinator", **extra: Any) -> Staff:
        """A new activated (and, where required, TOTP-enrolled) staff member.

        Roles that cannot be national are placed in region ``NOR`` unless told otherwise.
        """
        if "national" not in policy.ROLE_SCOPES[role] and not extra.keys() & _SCOPES:
            extra["region_code"] = "NOR"
        return await make_staff(self.db, self.settings, self.tenant, role=role, **extra)

    async def login(self, person: Staff) -> dict[str, Any]:
        """The token answer of a full API login of ``person``."""
        return await api_login(self.client, person)

    async def auth(self, person: Staff) -> dict[str, str]:
        """``Authorization`` headers of a fresh login of ``person``."""
        return bearer(str((await self.login(person))["access_token"]))

    async def citizen(self) -> tuple[uuid.UUID, dict[str, str]]:
        """A citizen account with an API session: its id and ``Authorization`` headers."""
        from tests.registration.conftest import citizen_token

        person = await citizen_token(self.db, self.settings, self.tenant)
        return person.id, person.headers

    async def facility(self, **changes: Any) -> uuid.UUID:
        """A new facility created by the administrator through the API; its id."""
        self._made += 1
        data = facility_body(code=f"SEC-{uuid.uuid4().hex[:8].upper()}", **changes)
        r = await self.client.post(f"{self.api}/facilities", json=data, headers=self.admin_auth)
        assert r.status_code == 201, r.text
        return uuid.UUID(r.json()["id"])

    async def ok(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A set-up request that must succeed (``path`` relative to :attr:`api`)."""
        r = await self.client.request(method, self.api + path, **kwargs)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        return r
