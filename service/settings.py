"""Settings of the service, read from `SPARSECODING_*` environment variables.

Unsafe values are refused at start-up rather than discovered in production: short or well-known
API keys, a key shared by two tenants, limits that are zero or negative.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_WEAK_KEYS = {"changethis", "changeme", "secret", "password", "apikey", "test", "key"}
MIN_KEY_LENGTH = 16
KEYS_FILE_NAME = "api_keys"


def valid_tenant(name: str) -> bool:
    """A tenant name: a letter or digit, then up to 63 letters, digits, `_`, `.` or `-`."""
    return _TENANT.match(name) is not None


def hash_key(key: str) -> str:
    """sha256 hex digest of an API key (keys are random and long, so no salt or KDF needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def parse_key_entries(text: str, source: str) -> dict[str, str]:
    """{sha256 of key: tenant} from `tenant:key` or `tenant:sha256:<hex>` entries.

    Entries are separated by commas or newlines; blank lines and `#` comments are skipped.
    """
    hashes: dict[str, str] = {}
    lines = (line.strip() for line in text.splitlines())
    entries = [e.strip() for line in lines if not line.startswith("#") for e in line.split(",")]
    for entry in entries:
        if not entry:
            continue
        tenant, sep, secret = entry.partition(":")
        tenant, secret = tenant.strip(), secret.strip()
        if not sep or not valid_tenant(tenant):
            raise ValueError(f"{source}: entry must be 'tenant:key' with a simple tenant name")
        if secret.startswith("sha256:"):
            digest = secret.removeprefix("sha256:").lower()
            if not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ValueError(f"{source}: tenant {tenant!r} has a malformed sha256 digest")
        else:
            if len(secret) < MIN_KEY_LENGTH or secret.lower() in _WEAK_KEYS:
                raise ValueError(
                    f"{source}: the key of tenant {tenant!r} is unsafe; use at least "
                    f"{MIN_KEY_LENGTH} random characters"
                )
            digest = hash_key(secret)
        if digest in hashes and hashes[digest] != tenant:
            raise ValueError(f"{source}: one key is given to two tenants")
        hashes[digest] = tenant
    return hashes


class Settings(BaseSettings):
    """Everything the app needs; every field can be set as `SPARSECODING_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="SPARSECODING_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Path("data")
    workers: int = Field(
        default=2, ge=1, description="Dask worker processes of the embedded cluster"
    )
    dask_scheduler: str | None = Field(default=None, description="address of an external scheduler")
    api_keys: SecretStr | None = Field(default=None, description="comma-separated tenant:key pairs")
    api_keys_file: Path | None = Field(default=None, description="default: <data_dir>/api_keys")
    metrics_key: SecretStr | None = Field(
        default=None,
        description="the operator's bearer token for /metrics (a tenant's key is not one); "
        "unset: /metrics answers 401",
    )
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"

    max_upload_bytes: int = Field(default=4 * 2**30, gt=0)
    max_json_bytes: int = Field(default=64 * 2**20, gt=0)
    max_json_in_flight_bytes: int = Field(
        default=256 * 2**20,
        gt=0,
        description="JSON bodies over 1 MiB received and parsed at once, in bytes; one more "
        "gets 503 with Retry-After (one body alone is always taken)",
    )
    max_n_components: int = Field(default=4096, gt=0)
    max_queued_jobs: int = Field(default=64, gt=0, description="queued jobs per tenant before 429")
    max_streams: int = Field(
        default=100, gt=0, description="open event streams per tenant before 429"
    )
    retry_after_s: int = Field(default=5, gt=0)
    min_free_bytes: int = Field(
        default=256 * 2**20,
        ge=0,
        description="room the data disk keeps: an upload that would leave less is refused "
        "(507) and no job is started while there is less",
    )
    encode_max_values: int = Field(
        default=4_000_000, gt=0, description="rows × features per encode"
    )

    checkpoint_interval_s: float = Field(default=2.0, ge=0)
    heartbeat_interval_s: float = Field(default=0.5, gt=0)
    stale_after_s: float = Field(
        default=30.0, gt=0, description="running job without heartbeat → lost"
    )
    max_attempts: int = Field(default=3, ge=1, description="runs of a job before it is failed")
    fair_slice_s: float = Field(
        default=60.0,
        gt=0,
        allow_inf_nan=False,
        description="when a tenant's queued jobs find every worker busy with other tenants' "
        "runs, the busiest tenant's run that has run this long gives its worker up "
        "(checkpointed, queued again, resumed later)",
    )
    max_job_seconds: float = Field(
        default=24 * 3600.0,
        gt=0,
        allow_inf_nan=False,
        description="a job's runtime cap, seconds of fitting over all its runs; a fit stops "
        "there with stop_reason runtime_cap (a smaller time_limit still applies)",
    )
    dispatch_interval_s: float = Field(default=0.5, gt=0)
    access_log: bool = Field(
        default=False,
        description="log every request (uvicorn's access log); a tenth of a small request's "
        "CPU, so off unless asked for — a proxy in front usually keeps that log",
    )

    @field_validator("host")
    @classmethod
    def _host_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("host must not be empty")
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.api_keys is not None:
            parse_key_entries(self.api_keys.get_secret_value(), "SPARSECODING_API_KEYS")
        if self.metrics_key is not None:
            key = self.metrics_key.get_secret_value()
            if len(key) < MIN_KEY_LENGTH or key.lower() in _WEAK_KEYS:
                raise ValueError(
                    f"SPARSECODING_METRICS_KEY is unsafe; use at least {MIN_KEY_LENGTH} random "
                    "characters"
                )
            if hash_key(key) in self.key_hashes():
                raise ValueError("SPARSECODING_METRICS_KEY must not be a tenant's API key")
        if self.stale_after_s <= 2 * self.heartbeat_interval_s:
            raise ValueError("stale_after_s must exceed twice heartbeat_interval_s")
        return self

    @property
    def keys_file(self) -> Path:
        return self.api_keys_file or self.data_dir / KEYS_FILE_NAME

    def key_hashes(self) -> dict[str, str]:
        """{sha256 of key: tenant} from the environment and the keys file, merged."""
        hashes: dict[str, str] = {}
        if self.keys_file.exists():
            hashes.update(parse_key_entries(self.keys_file.read_text(), str(self.keys_file)))
        if self.api_keys is not None:
            for digest, tenant in parse_key_entries(
                self.api_keys.get_secret_value(), "SPARSECODING_API_KEYS"
            ).items():
                if hashes.get(digest, tenant) != tenant:
                    raise ValueError("one key is given to two tenants")
                hashes[digest] = tenant
        return hashes
