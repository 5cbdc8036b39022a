"""Settings read from the environment (and a `.env` file in the working directory)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path.home() / ".local" / "share" / "coldsend"


class Settings(BaseSettings):
    """Every knob of a Coldsend process; the README lists them for users."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    home: Path = Field(default_factory=_default_home, validation_alias="COLDSEND_HOME")
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "COLDSEND_DATABASE_URL")
    )
    secret_key: str | None = Field(default=None, validation_alias="COLDSEND_SECRET_KEY")
    rate_limit_per_second: int = Field(default=100, ge=0, validation_alias="COLDSEND_RATE_LIMIT_PER_SECOND")
    rate_limit_per_minute: int = Field(default=6000, ge=0, validation_alias="COLDSEND_RATE_LIMIT_PER_MINUTE")
    # stricter per-endpoint limits of the reference (per workspace and minute; 0 turns one off)
    emails_list_per_minute: int = Field(default=20, ge=0, validation_alias="COLDSEND_EMAILS_LIST_PER_MINUTE")
    emails_test_per_minute: int = Field(default=10, ge=0, validation_alias="COLDSEND_EMAILS_TEST_PER_MINUTE")
    db_pool_size: int = Field(default=20, ge=1, validation_alias="COLDSEND_DB_POOL_SIZE")
    db_max_overflow: int = Field(default=0, ge=0, validation_alias="COLDSEND_DB_MAX_OVERFLOW")
    auth_cache_seconds: float = Field(default=30.0, ge=0, validation_alias="COLDSEND_AUTH_CACHE_SECONDS")
    log_level: str = Field(default="INFO", validation_alias="COLDSEND_LOG_LEVEL")
    public_url: str | None = Field(default=None, validation_alias="COLDSEND_PUBLIC_URL")
    # the sending engine (in `coldsend worker` and in `coldsend serve`'s in-process worker)
    sending_enabled: bool = Field(default=True, validation_alias="COLDSEND_SENDING")
    send_interval: float = Field(default=1.0, gt=0, validation_alias="COLDSEND_SEND_INTERVAL")
    send_batch_size: int = Field(default=200, ge=1, le=1000, validation_alias="COLDSEND_SEND_BATCH_SIZE")
    send_lease_seconds: float = Field(default=120.0, ge=1, validation_alias="COLDSEND_SEND_LEASE_SECONDS")
    send_concurrency: int = Field(default=200, ge=1, validation_alias="COLDSEND_SEND_CONCURRENCY")
    # inbox sync (replies, auto-replies, bounces) in the same workers
    inbox_sync_enabled: bool = Field(default=True, validation_alias="COLDSEND_INBOX_SYNC")
    inbox_poll_seconds: float = Field(default=60.0, gt=0, validation_alias="COLDSEND_INBOX_POLL_SECONDS")
    inbox_lease_seconds: float = Field(default=120.0, ge=5, validation_alias="COLDSEND_INBOX_LEASE_SECONDS")
    inbox_capacity: int = Field(default=1000, ge=1, validation_alias="COLDSEND_INBOX_CAPACITY")

    @property
    def embedded(self) -> bool:
        """True when Coldsend runs its own PostgreSQL inside the data directory."""
        return not self.database_url


@lru_cache
def get_settings() -> Settings:
    return Settings()
