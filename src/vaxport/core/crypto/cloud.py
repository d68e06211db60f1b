"""KEK providers backed by a key service: AWS KMS (boto3) and HashiCorp Vault transit (hvac).

Both are imported lazily so an installation that uses neither does not need them.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Mapping
from typing import Any

from vaxport.core.crypto.errors import KeyProviderError
from vaxport.core.crypto.providers import KeyProvider, WrappedKey, canonical_context


class AwsKmsProvider(KeyProvider):
    """Data keys from KMS ``GenerateDataKey``, unwrapped by ``Decrypt``.

    The encryption context is bound into every wrap (KMS refuses a Decrypt whose context
    differs) and appears in CloudTrail, which names the tenant and purpose of each use.
    """

    name = "aws-kms"

    def __init__(
        self, *, key_id: str, region: str | None = None, endpoint_url: str | None = None
    ) -> None:
        if not key_id:
            raise KeyProviderError("VAXPORT_AWS_KMS_KEY_ID is not set")
        self.key_id = key_id
        self.region = region
        self.endpoint_url = endpoint_url
        self._client: Any = None
        self._arn: str | None = None
        self._lock = threading.Lock()

    def _kms(self) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                self._client = boto3.client(
                    "kms",
                    region_name=self.region,
                    endpoint_url=self.endpoint_url,
                    config=Config(
                        connect_timeout=3,
                        read_timeout=10,
                        retries={"max_attempts": 4, "mode": "standard"},
                    ),
                )
            return self._client

    def _call(self, op: str, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            result: dict[str, Any] = getattr(self._kms(), op)(**kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise KeyProviderError(f"AWS KMS {op} failed: {exc}") from exc
        return result

    def current_kek_id(self) -> str:
        if self._arn is None:
            meta = self._call("describe_key", KeyId=self.key_id)["KeyMetadata"]
            self._arn = str(meta["Arn"])
        return self._arn

    def generate(self, context: Mapping[str, str]) -> tuple[bytes, WrappedKey]:
        out = self._call(
            "generate_data_key",
            KeyId=self.current_kek_id(),
            KeySpec="AES_256",
            EncryptionContext=dict(context),
        )
        return bytes(out["Plaintext"]), WrappedKey(bytes(out["CiphertextBlob"]), str(out["KeyId"]))

    def wrap(self, key: bytes, context: Mapping[str, str]) -> WrappedKey:
        out = self._call(
            "encrypt", KeyId=self.current_kek_id(), Plaintext=key, EncryptionContext=dict(context)
        )
        return WrappedKey(bytes(out["CiphertextBlob"]), str(out["KeyId"]))

    def unwrap(self, wrapped: WrappedKey, context: Mapping[str, str]) -> bytes:
        out = self._call(
            "decrypt",
            CiphertextBlob=wrapped.blob,
            KeyId=wrapped.kek_id,
            EncryptionContext=dict(context),
        )
        return bytes(out["Plaintext"])

    def begin_kek_rotation(self) -> str:
        # KMS rotates key material itself (transparently); moving to another KMS key is
        # done by pointing VAXPORT_AWS_KMS_KEY_ID at it before running rotate-kek.
        return (
            f"aws-kms: re-wrapping every data key under {self.current_kek_id()} "
            "(to move to a new KMS key, set VAXPORT_AWS_KMS_KEY_ID to it first)"
        )


class VaultProvider(KeyProvider):
    """Vault transit: the KEK is a named transit key; Vault keeps and versions it."""

    name = "vault"

    def __init__(self, *, addr: str, token: str, key_name: str, mount: str = "transit") -> None:
        if not addr or not token:
            raise KeyProviderError("VAXPORT_VAULT_ADDR and VAXPORT_VAULT_TOKEN must be set")
        self.addr, self.token, self.key_name, self.mount = addr, token, key_name, mount
        self._client: Any = None
        self._lock = threading.Lock()

    def _transit(self) -> Any:
        with self._lock:
            if self._client is None:
                import hvac

                self._client = hvac.Client(url=self.addr, token=self.token, timeout=10)
            return self._client.secrets.transit

    def _call(self, op: str, **kwargs: Any) -> Any:
        import hvac.exceptions
        import requests

        try:
            return getattr(self._transit(), op)(mount_point=self.mount, **kwargs)
        except (hvac.exceptions.VaultError, requests.RequestException) as exc:
            raise KeyProviderError(f"Vault transit {op} failed: {exc}") from exc

    def _kek_id(self, version: int | str) -> str:
        return f"vault:{self.mount}/{self.key_name}:v{version}"

    def current_kek_id(self) -> str:
        data = self._call("read_key", name=self.key_name)["data"]
        return self._kek_id(data["latest_version"])

    def wrap(self, key: bytes, context: Mapping[str, str]) -> WrappedKey:
        out = self._call(
            "encrypt_data",
            name=self.key_name,
            plaintext=base64.b64encode(key).decode(),
            associated_data=base64.b64encode(canonical_context(context)).decode(),
        )
        ciphertext = str(out["data"]["ciphertext"])  # "vault:v<N>:<base64>"
        version = ciphertext.split(":", 2)[1].lstrip("v")
        return WrappedKey(ciphertext.encode(), self._kek_id(version))

    def unwrap(self, wrapped: WrappedKey, context: Mapping[str, str]) -> bytes:
        out = self._call(
            "decrypt_data",
            name=self.key_name,
            ciphertext=wrapped.blob.decode(),
            associated_data=base64.b64encode(canonical_context(context)).decode(),
        )
        return base64.b64decode(out["data"]["plaintext"])

    def begin_kek_rotation(self) -> str:
        self._call("rotate_key", name=self.key_name)
        return f"vault: rotated transit key {self.key_name}; now {self.current_kek_id()}"
