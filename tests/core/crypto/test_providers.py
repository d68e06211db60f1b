"""KEK providers: the local key file's safety rules, AWS KMS (moto server), Vault (dev server)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.core.crypto.models import Person
from tests.support.parts import METADATA
from vaxport.core.crypto import KeyFileError, KeyProviderError, set_keyring
from vaxport.core.crypto.kek import rotate_kek
from vaxport.core.crypto.keyring import Keyring, key_context
from vaxport.core.crypto.providers import (
    KeyProvider,
    LocalKeyFileProvider,
    init_key_file,
    provider_from_settings,
)
from vaxport.core.db import Database
from vaxport.settings import Settings

CTX = key_context(uuid.UUID(int=1), "data", 1)


def _round_trip(provider: KeyProvider) -> None:
    key, wrapped = provider.generate(CTX)
    assert len(key) == 32
    assert key not in wrapped.blob
    assert provider.unwrap(wrapped, CTX) == key
    other = key_context(uuid.UUID(int=2), "data", 1)
    with pytest.raises(KeyProviderError):
        provider.unwrap(wrapped, other)  # bound to its tenant: a copied row fails


def test_keys_init_creates_a_private_file_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "keys.json"
    kek_id = init_key_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert kek_id.startswith("local:1:")
    before = path.read_bytes()
    with pytest.raises(KeyFileError, match="already exists"):
        init_key_file(path)
    assert path.read_bytes() == before
    _round_trip(LocalKeyFileProvider(path))


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_a_group_or_world_readable_key_file_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "keys.json"
    init_key_file(path)
    os.chmod(path, mode)
    with pytest.raises(KeyFileError, match="chmod 600"):
        LocalKeyFileProvider(path).current_kek_id()


def test_missing_or_wrong_key_file_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="vaxport keys init"):
        LocalKeyFileProvider(tmp_path / "absent.json").current_kek_id()
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    init_key_file(a)
    init_key_file(b)
    _key, wrapped = LocalKeyFileProvider(a).generate(CTX)
    with pytest.raises(KeyFileError, match="does not hold KEK"):
        LocalKeyFileProvider(b).unwrap(wrapped, CTX)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    os.chmod(bad, 0o600)
    with pytest.raises(KeyFileError, match="malformed"):
        LocalKeyFileProvider(bad).current_kek_id()


def test_development_creates_the_key_file_on_first_use(tmp_path: Path) -> None:
    provider = provider_from_settings(Settings(env="development", data_dir=tmp_path))
    _round_trip(provider)
    assert (tmp_path / "keys.json").stat().st_mode & 0o777 == 0o600


def test_production_refuses_local_keys_without_consent(tmp_path: Path) -> None:
    settings = Settings(env="production", data_dir=tmp_path, key_provider="local")
    with pytest.raises(KeyProviderError, match="refused in production"):
        provider_from_settings(settings)
    assert any("ALLOW_LOCAL_KEYS" in p for p in settings.unsafe_problems())
    consenting = Settings(
        env="production",
        data_dir=tmp_path,
        key_provider="local",
        allow_local_keys_in_production=True,
    )
    provider = provider_from_settings(consenting)
    with pytest.raises(KeyFileError, match="does not exist"):  # never invented in production
        provider.current_kek_id()


# ----------------------------------------------------------------------------- AWS KMS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def kms_endpoint() -> Iterator[str]:
    """A moto server (real HTTP KMS API) on a loopback port."""
    pytest.importorskip("moto.server", reason="moto[server] is not installed")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-3",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def _kms_key(endpoint: str) -> str:
    import boto3

    kms = boto3.client("kms", region_name="eu-west-3", endpoint_url=endpoint)
    return str(kms.create_key(Description="vaxport test KEK")["KeyMetadata"]["KeyId"])


@pytest.mark.usefixtures("aws_env")
async def test_aws_kms_provider_against_moto_server(
    kms_endpoint: str, people: Database, tenant: uuid.UUID
) -> None:
    settings = Settings(
        env="production",
        key_provider="aws-kms",
        aws_kms_key_id=_kms_key(kms_endpoint),
        aws_region="eu-west-3",
        aws_endpoint_url=kms_endpoint,
    )
    provider = provider_from_settings(settings)
    _round_trip(provider)
    assert provider.current_kek_id().startswith("arn:aws:kms:eu-west-3:")
    set_keyring(Keyring(provider))
    async with people.transaction(tenant_id=tenant) as uow:
        p = Person(tenant_id=tenant)
        p.phone = "+33612345678"
        p.notes = "kms"
        uow.session.add(p)
    set_keyring(Keyring(provider_from_settings(settings)))  # cold cache: unwrap via KMS
    async with people.read(tenant_id=tenant) as s:
        got = (await s.execute(select(Person))).scalar_one()
        assert (got.phone, got.notes) == ("+33612345678", "kms")

    # Moving to a new KMS key: point the setting at it, then rotate-kek re-wraps.
    moved = settings.model_copy(update={"aws_kms_key_id": _kms_key(kms_endpoint)})
    set_keyring(Keyring(provider_from_settings(moved)))
    result = await rotate_kek(people, metadata=METADATA)
    assert result.complete
    assert result.updated == 2  # the tenant's data key and index key
    set_keyring(Keyring(provider_from_settings(moved)))
    async with people.read(tenant_id=tenant) as s:
        assert (await s.execute(select(Person))).scalar_one().phone == "+33612345678"


@pytest.mark.usefixtures("aws_env")
def test_aws_kms_errors_are_provider_errors(kms_endpoint: str) -> None:
    from vaxport.core.crypto.cloud import AwsKmsProvider

    provider = AwsKmsProvider(
        key_id="alias/does-not-exist", region="eu-west-3", endpoint_url=kms_endpoint
    )
    with pytest.raises(KeyProviderError, match="AWS KMS"):
        provider.generate(CTX)


# ----------------------------------------------------------------------------- Vault


@pytest.fixture(scope="module")
def vault_addr() -> Iterator[str]:
    """A Vault dev server on loopback, with transit enabled (skipped without the binary)."""
    binary = shutil.which("vault")
    if binary is None:
        pytest.skip("no `vault` binary on PATH (HashiCorp Vault is not packaged by Debian/PyPI)")
    port = _free_port()
    addr = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            binary,
            "server",
            "-dev",
            "-dev-root-token-id=vaxport-test",
            f"-dev-listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import hvac

        client = hvac.Client(url=addr, token="vaxport-test")
        deadline = time.monotonic() + 30
        while True:
            try:
                if client.sys.is_initialized():
                    break
            except Exception:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)
        client.sys.enable_secrets_engine("transit")
        client.secrets.transit.create_key(name="vaxport")
        yield addr
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_vault_transit_provider(vault_addr: str, people: Database, tenant: uuid.UUID) -> None:
    settings = Settings(
        env="production",
        key_provider="vault",
        vault_addr=vault_addr,
        vault_token="vaxport-test",
        vault_transit_key="vaxport",
    )
    provider = provider_from_settings(settings)
    _round_trip(provider)
    set_keyring(Keyring(provider))
    async with people.transaction(tenant_id=tenant) as uow:
        p = Person(tenant_id=tenant)
        p.email = "vault@example.org"
        uow.session.add(p)
    before = provider.current_kek_id()
    assert (await rotate_kek(people, metadata=METADATA)).complete
    assert provider.current_kek_id() != before
    set_keyring(Keyring(provider_from_settings(settings)))
    async with people.read(tenant_id=tenant) as s:
        assert (await s.execute(select(Person))).scalar_one().email == "vault@example.org"


def test_keyring_cache_is_bounded_in_time_and_size(monkeypatch: pytest.MonkeyPatch) -> None:
    import vaxport.core.crypto.keyring as kr_module

    now = [1000.0]
    monkeypatch.setattr(kr_module.time, "monotonic", lambda: now[0])
    keyring = Keyring(LocalKeyFileProvider(Path("/nonexistent")), cache_seconds=60, max_entries=16)
    keyring._put(("db", "key", 1), b"k" * 32)
    assert keyring._get(("db", "key", 1)) == b"k" * 32
    now[0] += 61
    assert keyring._get(("db", "key", 1)) is None
    for i in range(40):
        keyring._put(("db", "subject", i), b"s" * 32)
    assert len(keyring._cache) == 16
    assert keyring._get(("db", "subject", 0)) is None
    assert keyring._get(("db", "subject", 39)) is not None
    off = Keyring(LocalKeyFileProvider(Path("/nonexistent")), cache_seconds=0)
    off._put(("db", "key", 1), b"k" * 32)
    assert off._get(("db", "key", 1)) is None
