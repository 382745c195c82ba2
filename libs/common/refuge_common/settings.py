"""Settings shared by every service, read from environment variables.

Each field's environment variable is its name in upper case (``kafka_bootstrap_servers``
is ``KAFKA_BOOTSTRAP_SERVERS``); README.md lists them all, and a test keeps it so.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class PlatformSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated."
    )
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/refuge",
        description="PostgreSQL URL of the schema owner, used to create the database and migrate.",
    )
    database_app_password: SecretStr | None = Field(
        default=None,
        description="Password of the per-service login roles (refuge_intake, ...); unset for trust auth.",
    )
    database_pool_size: int = Field(default=10, ge=1, description="Connections per service pool.")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_format: str = Field(default="json", pattern="^(json|console)$", description="json or console.")
    consumer_max_attempts: int = Field(
        default=5, ge=1, description="Attempts at an event before it goes to the dead-letter topic."
    )
    consumer_backoff_initial_ms: int = Field(
        default=200, ge=1, description="First retry delay; doubles per attempt."
    )
    consumer_backoff_max_ms: int = Field(default=10_000, ge=1, description="Longest retry delay.")
    consumer_session_timeout_ms: int = Field(
        default=10_000,
        ge=1_000,
        description="How long a silent consumer keeps its partitions before the group moves them.",
    )
    outbox_batch_size: int = Field(default=500, ge=1, description="Rows the relay publishes per batch.")
    outbox_poll_interval_ms: int = Field(
        default=1_000, ge=10, description="Relay polling when no NOTIFY arrives."
    )
    outbox_linger_ms: int = Field(
        default=5,
        ge=0,
        le=1_000,
        description="After a partial batch, how long the relay lets rows gather before the next "
        "(the first row after a quiet spell leaves at once).",
    )
    master_key: SecretStr | None = Field(
        default=None,
        description="Base64 of the 32-byte key wrapping per-person keys (REFUGE_MASTER_KEY).",
        validation_alias="REFUGE_MASTER_KEY",
    )
    jwks_url: str = Field(
        default="http://127.0.0.1:8001/.well-known/jwks.json",
        description="Where services fetch intake's public token-signing keys.",
    )
    http_host: str = Field(default="127.0.0.1", description="Interface the HTTP server binds.")
