"""Fixtures of the certificate tests: a tenant, its national admin's API headers, and a
keyring whose KEK a test may rotate."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.identity.helpers import api_login, bearer, make_staff
from tests.support.cli import cli  # noqa: F401 - a fixture of these tests
from tests.support.tenants import load_tenant
from vaxport.certificates import signers
from vaxport.certificates.trust import service as trust
from vaxport.core.cache import Cache
from vaxport.core.crypto import get_keyring, set_keyring
from vaxport.core.crypto.keyring import Keyring
from vaxport.core.crypto.providers import LocalKeyFileProvider
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo


@pytest.fixture
async def tenant(clean_db: Database, cache: Cache) -> TenantInfo:
    """A fresh tenant (the demo country); the process's cached trust union is dropped."""
    trust.forget(clean_db)
    return await load_tenant(clean_db, cache)


@pytest.fixture(autouse=True)
def _fresh_signers(db: Database) -> Iterator[None]:
    """Tables are emptied between tests: no test may sign with a key another cached."""
    signers.forget(db)
    yield
    signers.forget(db)


@pytest.fixture
async def admin_headers(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> dict[str, str]:
    """``Authorization`` of a national admin of ``tenant`` (holds ``trust:manage``)."""
    person = await make_staff(clean_db, settings, tenant, role="national_admin")
    return bearer(str((await api_login(client, person))["access_token"]))


@pytest.fixture
def copied_keyring(key_file: Path, tmp_path: Path) -> Iterator[None]:
    """A keyring over a copy of the session's key file, so a KEK rotation stays local."""
    copy = tmp_path / "keys.json"
    shutil.copy(key_file, copy)
    previous = get_keyring()
    set_keyring(Keyring(LocalKeyFileProvider(copy)))
    yield
    set_keyring(previous)
