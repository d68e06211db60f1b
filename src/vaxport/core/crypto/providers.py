"""Key-encryption-key (KEK) providers: where the keys that wrap our data keys live.

Data keys are only ever stored wrapped. A provider wraps and unwraps them; the KEK never
leaves it (``aws-kms``, ``vault``) or lives in a 0600 file outside the database
(``local``). Every call is synchronous and may block on the network: the keyring runs it
off the event loop.

The encryption context (tenant, purpose, version) is bound into every wrap, so a wrapped
key copied to another tenant's row cannot be unwrapped.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import stat
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vaxport.core.clock import utcnow
from vaxport.core.crypto.errors import KeyFileError, KeyProviderError

if TYPE_CHECKING:
    from vaxport.settings import Settings

KEY_BYTES = 32
KEY_FILE_FORMAT = "vaxport.keys/1"


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key as stored: the provider's opaque blob and the id of the KEK that made it."""

    blob: bytes
    kek_id: str


def canonical_context(context: Mapping[str, str]) -> bytes:
    """A stable byte form of an encryption context (sorted JSON)."""
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":")).encode()


class KeyProvider(ABC):
    """Wraps and unwraps data keys under a key-encryption key."""

    name: str

    @abstractmethod
    def current_kek_id(self) -> str:
        """The id of the KEK new wraps use."""

    @abstractmethod
    def wrap(self, key: bytes, context: Mapping[str, str]) -> WrappedKey:
        """Wrap ``key`` under the current KEK, bound to ``context``."""

    @abstractmethod
    def unwrap(self, wrapped: WrappedKey, context: Mapping[str, str]) -> bytes:
        """Recover a data key; fails if the KEK, the blob or the context do not match."""

    def generate(self, context: Mapping[str, str]) -> tuple[bytes, WrappedKey]:
        """A new random 256-bit data key and its wrapped form."""
        key = os.urandom(KEY_BYTES)
        return key, self.wrap(key, context)

    def begin_kek_rotation(self) -> str:
        """Make a new KEK current (where the provider can); say what happened."""
        return f"{self.name}: nothing to create; re-wrapping under {self.current_kek_id()}"

    def finish_kek_rotation(self, in_use: Iterable[str]) -> list[str]:
        """Drop KEK versions no data key uses any more; return the dropped ids."""
        del in_use
        return []


# --------------------------------------------------------------------------- local file


def _fingerprint(key: bytes) -> str:
    return hashlib.sha256(b"vaxport.kek-id\x00" + key).hexdigest()[:12]


def check_key_file_mode(path: Path) -> None:
    """Refuse a key file that is not a regular file or that group/others can read."""
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise KeyFileError(f"key file {path} does not exist; create it: vaxport keys init") from exc
    if not stat.S_ISREG(st.st_mode):
        raise KeyFileError(f"key file {path} is not a regular file")
    if st.st_mode & 0o077:
        raise KeyFileError(
            f"key file {path} is readable or writable by group/others "
            f"(mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {path}"
        )


def _write_private(path: Path, data: bytes, *, exclusive: bool) -> None:
    """Write ``data`` to ``path`` atomically with mode 0600 (never visible half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".keys-", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            try:
                os.link(tmp, path)  # fails if the file appeared meanwhile: never overwrite keys
            except FileExistsError as exc:
                raise KeyFileError(
                    f"key file {path} already exists; refusing to replace it"
                ) from exc
        else:
            os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def new_key_file_document() -> dict[str, Any]:
    """The content of a fresh key file: one random KEK, version 1."""
    return {
        "format": KEY_FILE_FORMAT,
        "active": 1,
        "keys": [
            {
                "version": 1,
                "key": base64.b64encode(os.urandom(KEY_BYTES)).decode(),
                "created_at": utcnow().isoformat(),
            }
        ],
    }


def init_key_file(path: Path) -> str:
    """Create a new key file (refuses to overwrite one); return its KEK id."""
    doc = new_key_file_document()
    _write_private(path, json.dumps(doc, indent=2).encode(), exclusive=True)
    return LocalKeyFileProvider(path).current_kek_id()


class LocalKeyFileProvider(KeyProvider):
    """KEKs in a JSON file (mode 0600) outside the database; versioned for rotation."""

    name = "local"

    def __init__(self, path: Path, *, create_if_missing: bool = False) -> None:
        self.path = path
        self.create_if_missing = create_if_missing
        self._lock = threading.Lock()
        self._keys: dict[str, bytes] = {}
        self._versions: dict[int, str] = {}
        self._active: str | None = None

    def _load(self) -> None:
        if self.create_if_missing and not self.path.exists():
            with contextlib.suppress(KeyFileError):  # lost a creation race: read the winner's
                init_key_file(self.path)
        check_key_file_mode(self.path)
        try:
            doc = json.loads(self.path.read_bytes())
            if doc.get("format") != KEY_FILE_FORMAT:
                raise KeyFileError(f"key file {self.path} has unknown format {doc.get('format')!r}")
            keys: dict[str, bytes] = {}
            versions: dict[int, str] = {}
            for entry in doc["keys"]:
                key = base64.b64decode(entry["key"], validate=True)
                if len(key) != KEY_BYTES:
                    raise KeyFileError(
                        f"key file {self.path}: key {entry['version']} is not 256-bit"
                    )
                kek_id = f"local:{int(entry['version'])}:{_fingerprint(key)}"
                keys[kek_id] = key
                versions[int(entry["version"])] = kek_id
            active = versions[int(doc["active"])]
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyFileError(f"key file {self.path} is malformed: {exc}") from exc
        self._keys, self._versions, self._active = keys, versions, active

    def _ensure(self) -> None:
        if self._active is None:
            self._load()

    def current_kek_id(self) -> str:
        with self._lock:
            self._ensure()
            assert self._active is not None
            return self._active

    def _key(self, kek_id: str) -> bytes:
        with self._lock:
            self._ensure()
            if kek_id not in self._keys:
                self._load()  # another process may have rotated the file
            try:
                return self._keys[kek_id]
            except KeyError:
                raise KeyFileError(
                    f"key file {self.path} does not hold KEK {kek_id}; restore the key file "
                    "that matches this database"
                ) from None

    def wrap(self, key: bytes, context: Mapping[str, str]) -> WrappedKey:
        kek_id = self.current_kek_id()
        nonce = os.urandom(12)
        blob = nonce + AESGCM(self._key(kek_id)).encrypt(nonce, key, canonical_context(context))
        return WrappedKey(blob, kek_id)

    def unwrap(self, wrapped: WrappedKey, context: Mapping[str, str]) -> bytes:
        kek = self._key(wrapped.kek_id)
        try:
            return AESGCM(kek).decrypt(
                wrapped.blob[:12], wrapped.blob[12:], canonical_context(context)
            )
        except InvalidTag:
            raise KeyProviderError(
                f"wrapped key does not authenticate under {wrapped.kek_id} for {dict(context)}"
            ) from None

    def begin_kek_rotation(self) -> str:
        with self._lock:
            self._load()
            doc = json.loads(self.path.read_bytes())
            version = max(int(e["version"]) for e in doc["keys"]) + 1
            doc["keys"].append(
                {
                    "version": version,
                    "key": base64.b64encode(os.urandom(KEY_BYTES)).decode(),
                    "created_at": utcnow().isoformat(),
                }
            )
            doc["active"] = version
            _write_private(self.path, json.dumps(doc, indent=2).encode(), exclusive=False)
            self._load()
            assert self._active is not None
            return f"local: added KEK {self._active} to {self.path} (older versions kept)"

    def finish_kek_rotation(self, in_use: Iterable[str]) -> list[str]:
        used = set(in_use)
        with self._lock:
            self._load()
            doc = json.loads(self.path.read_bytes())
            keep, dropped = [], []
            for entry in doc["keys"]:
                kek_id = self._versions[int(entry["version"])]
                if kek_id == self._active or kek_id in used:
                    keep.append(entry)
                else:
                    dropped.append(kek_id)
            if dropped:
                doc["keys"] = keep
                _write_private(self.path, json.dumps(doc, indent=2).encode(), exclusive=False)
                self._load()
            return dropped


def provider_from_settings(settings: Settings) -> KeyProvider:
    """The provider ``VAXPORT_KEY_PROVIDER`` names, configured from the settings."""
    kind = settings.effective_key_provider
    if kind == "local":
        if settings.env == "production" and not settings.allow_local_keys_in_production:
            raise KeyProviderError(
                "the local key file is refused in production; set VAXPORT_KEY_PROVIDER to "
                "aws-kms or vault, or VAXPORT_ALLOW_LOCAL_KEYS_IN_PRODUCTION=true"
            )
        # Only a development/test installation invents its own KEK; production must be
        # given one (`vaxport keys init`), or a wrong path would silently start a new key.
        return LocalKeyFileProvider(
            settings.effective_key_file, create_if_missing=settings.env != "production"
        )
    if kind == "aws-kms":
        from vaxport.core.crypto.cloud import AwsKmsProvider

        return AwsKmsProvider(
            key_id=settings.aws_kms_key_id,
            region=settings.aws_region or None,
            endpoint_url=settings.aws_endpoint_url or None,
        )
    if kind == "vault":
        from vaxport.core.crypto.cloud import VaultProvider

        return VaultProvider(
            addr=settings.vault_addr,
            token=settings.vault_token.get_secret_value(),
            key_name=settings.vault_transit_key,
            mount=settings.vault_transit_mount,
        )
    raise KeyProviderError(f"unknown key provider {kind!r}")
