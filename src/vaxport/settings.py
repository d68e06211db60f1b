"""Process configuration, read once from ``VAXPORT_*`` environment variables.

Every setting is documented in the README. ``VAXPORT_ENV=production`` refuses to start
on unsafe defaults and names each problem, so a misconfigured replica never serves.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

import orjson
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from vaxport.core.http.rate_rules import check_limits

_PLACEHOLDERS = {"", "change-me", "changeme", "secret", "dev", "development", "insecure"}
_ORIGIN = re.compile(
    r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?$|^https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?$"
)
# A list from the environment: a JSON array, or comma-separated for convenience.
EnvList = Annotated[list[str], NoDecode]


def _env_list(value: object) -> object:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return orjson.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class UnsafeConfigurationError(RuntimeError):
    """Raised when production settings would be unsafe; lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "refusing to start in production:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def default_data_dir() -> Path:
    """Where the embedded database, local keys and console outbox live by default."""
    return Path.cwd() / "var"


class Settings(BaseSettings):
    """All runtime settings; see README 'Settings' for each one."""

    model_config = SettingsConfigDict(env_prefix="VAXPORT_", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    debug: bool = False
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str = ""
    database_pool_size: int = Field(default=10, ge=1, le=500)
    database_max_overflow: int = Field(default=10, ge=0, le=500)
    database_echo: bool = False
    database_migration_url: SecretStr = SecretStr("")
    database_app_role: str = ""
    redis_url: str = ""
    key_provider: Literal["local", "aws-kms", "vault", ""] = ""
    allow_local_keys_in_production: bool = False
    key_file: Path | None = None
    key_cache_seconds: int = Field(default=300, ge=0, le=86_400)
    key_cache_max_entries: int = Field(default=100_000, ge=16)
    aws_kms_key_id: str = ""
    aws_region: str = ""
    aws_endpoint_url: str = ""
    vault_addr: str = ""
    vault_token: SecretStr = SecretStr("")
    vault_transit_key: str = "vaxport"
    vault_transit_mount: str = "transit"
    secret_key: SecretStr = SecretStr("")
    log_level: str = "INFO"
    log_json: bool = True
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    upload_max_bytes: int = Field(default=200 * 1_048_576, ge=1024)
    # A photo of a certificate's QR code sent to POST /api/v1/verify (its own cap: the
    # route is an upload, but nothing like an import file).
    verify_image_max_bytes: int = Field(default=2 * 1_048_576, ge=1024)
    # An offline device's sync batch (up to 5,000 records, a few KiB each at most): its
    # own cap, below the upload routes' (it is parsed in memory, not spooled).
    sync_max_bytes: int = Field(default=16 * 1_048_576, ge=1024)
    bench_mode: bool = False
    public_url: str = "http://127.0.0.1:8000"
    countries_dir: Path = Path("countries")
    config_cache_seconds: int = Field(default=60, ge=0)
    directory_cache_seconds: int = Field(default=60, ge=0, le=86_400)
    outbox_batch_size: int = Field(default=100, ge=1, le=10_000)
    outbox_max_attempts: int = Field(default=10, ge=1, le=100)
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    outbox_lease_seconds: float = Field(default=60, ge=1)
    outbox_concurrency: int = Field(default=4, ge=1, le=256)
    outbox_handler_timeout_seconds: float = Field(default=60, gt=0)
    outbox_backoff_base_seconds: float = Field(default=2.0, gt=0)
    outbox_backoff_max_seconds: float = Field(default=3600, gt=0)
    outbox_retention_days: float = Field(default=7, ge=0)
    outbox_housekeeping_seconds: float = Field(default=300, gt=0)
    idempotency_ttl_hours: int = Field(default=24, ge=24)
    # The seat gate in Redis that turns away bookings of a full slot (scheduling/gate.py);
    # without Redis there is none. Its counters are reseeded from the database this often.
    booking_gate: bool = True
    booking_gate_seconds: float = Field(default=30, gt=0, le=3600)
    idempotency_lock_seconds: float = Field(default=120, gt=0)
    trusted_proxies: EnvList = Field(default_factory=list)
    forwarded_header: Literal["x-forwarded", "forwarded"] = "x-forwarded"
    cors_origins: EnvList = Field(default_factory=list)
    cors_allow_credentials: bool = False
    force_https: bool = False
    rate_limit_enabled: bool = True
    rate_limit_prefix: str = Field(default="vaxport:rl", min_length=1, max_length=100)
    # Per route class and dimension; see README "Rate limits" and core/http/rate_rules.py.
    rate_limit_code_request_ip: str = "20/minute;200/hour"
    rate_limit_code_request_account: str = "5/minute;30/hour"
    rate_limit_login_ip: str = "30/minute;300/hour"
    rate_limit_login_account: str = "10/minute"
    rate_limit_public_search_ip: str = "300/minute"
    rate_limit_public_search_account: str = "300/minute"
    rate_limit_verification_ip: str = "300/minute"
    rate_limit_verification_account: str = "1200/minute"
    # Booking, rescheduling and cancelling: a person books a few times a year, a bot
    # taking seats thousands of times a minute (scheduling/appointments_api.py).
    rate_limit_booking_ip: str = "600/minute"
    rate_limit_booking_account: str = "20/minute;300/hour"
    rate_limit_write_ip: str = "1200/minute"
    rate_limit_write_account: str = "300/minute"
    # Unlimited: each check costs two store round trips, and plain reads are the bulk
    # of the traffic, cached and cheap; the edge (load balancer, WAF) guards them.
    rate_limit_default_ip: str = "unlimited"
    rate_limit_default_account: str = "unlimited"
    # Citizens' registrations refused as "already registered": each one tells whether an
    # ID number is registered, so they are few (a family registers a handful of people).
    rate_limit_id_check_ip: str = "20/hour;50/day"
    rate_limit_id_check_account: str = "5/hour;10/day"
    console_outbox: Path | None = None
    access_token_seconds: int = Field(default=900, ge=60, le=3600)
    staff_session_hours: float = Field(default=12, gt=0, le=24 * 30)
    reauth_seconds: int = Field(default=300, ge=30, le=3600)
    invite_hours: float = Field(default=72, gt=0, le=24 * 30)
    # /api/docs and /api/openapi.json: on outside production unless turned off.
    api_docs: bool | None = None
    # /metrics wants "Authorization: Bearer <token>" when set; in production without
    # one it is not served at all (404).
    metrics_token: SecretStr = SecretStr("")

    @field_validator("trusted_proxies", "cors_origins", mode="before")
    @classmethod
    def _lists(cls, value: object) -> object:
        return _env_list(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or CIDR network") from None
        return [item.strip() for item in value]

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        origins = [item.strip().lower() for item in value]
        for origin in origins:
            if origin != "*" and not _ORIGIN.match(origin):
                raise ValueError(
                    f"{origin!r} is not an origin: scheme://host[:port], no path or slash"
                )
        return origins

    @field_validator(
        "rate_limit_code_request_ip",
        "rate_limit_code_request_account",
        "rate_limit_login_ip",
        "rate_limit_login_account",
        "rate_limit_public_search_ip",
        "rate_limit_public_search_account",
        "rate_limit_verification_ip",
        "rate_limit_verification_account",
        "rate_limit_booking_ip",
        "rate_limit_booking_account",
        "rate_limit_write_ip",
        "rate_limit_write_account",
        "rate_limit_default_ip",
        "rate_limit_default_account",
        "rate_limit_id_check_ip",
        "rate_limit_id_check_account",
    )
    @classmethod
    def _rate_limits(cls, value: str) -> str:
        return check_limits(value)

    @model_validator(mode="after")
    def _credentials_need_named_origins(self) -> Settings:
        if self.cors_allow_credentials and "*" in self.cors_origins:
            raise ValueError(
                "VAXPORT_CORS_ALLOW_CREDENTIALS needs named origins, not '*' "
                "(any site could act with the user's credentials)"
            )
        return self

    def rate_limit_rule(self, route_class: str, dimension: str) -> str:
        """The default rule text of a route class for ``ip`` or ``account``."""
        text: str = getattr(self, f"rate_limit_{route_class}_{dimension}")
        return text

    @property
    def effective_database_url(self) -> str:
        """The configured database URL, or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'vaxport.db'}"

    @property
    def api_docs_enabled(self) -> bool:
        """Whether the API's documentation and OpenAPI schema are served."""
        return self.env != "production" if self.api_docs is None else self.api_docs

    @property
    def effective_key_file(self) -> Path:
        """The local key-encryption-key file (``local`` provider)."""
        return self.key_file or self.data_dir / "keys.json"

    @property
    def effective_key_provider(self) -> str:
        """The configured key provider; ``local`` when unset (refused in production)."""
        return self.key_provider or "local"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    def unsafe_problems(self) -> list[str]:
        """Everything that would make this configuration unsafe in production."""
        problems: list[str] = []
        if self.is_sqlite:
            problems.append("VAXPORT_DATABASE_URL is unset or SQLite; production needs PostgreSQL")
        if not self.key_provider:
            problems.append("VAXPORT_KEY_PROVIDER is unset; choose local, aws-kms or vault")
        elif self.key_provider == "local" and not self.allow_local_keys_in_production:
            problems.append(
                "VAXPORT_KEY_PROVIDER=local needs VAXPORT_ALLOW_LOCAL_KEYS_IN_PRODUCTION=true"
            )
        if self.key_provider == "aws-kms" and not self.aws_kms_key_id:
            problems.append("VAXPORT_KEY_PROVIDER=aws-kms needs VAXPORT_AWS_KMS_KEY_ID")
        if self.key_provider == "vault" and not (
            self.vault_addr and self.vault_token.get_secret_value()
        ):
            problems.append("VAXPORT_KEY_PROVIDER=vault needs VAXPORT_VAULT_ADDR and _TOKEN")
        if self.debug:
            problems.append("VAXPORT_DEBUG is on")
        secret = self.secret_key.get_secret_value()
        if secret.lower() in _PLACEHOLDERS or len(secret) < 32:
            problems.append("VAXPORT_SECRET_KEY is a placeholder or shorter than 32 characters")
        if not self.redis_url:
            problems.append("VAXPORT_REDIS_URL is unset; replicas would not share limits/cache")
        if self.bench_mode:
            problems.append("VAXPORT_BENCH_MODE is on; it exposes no-op endpoints")
        return problems

    def check_safe(self) -> None:
        """Raise :class:`UnsafeConfigurationError` if production runs on unsafe defaults."""
        if self.env == "production":
            problems = self.unsafe_problems()
            if problems:
                raise UnsafeConfigurationError(problems)


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
