from pathlib import Path

from pydantic import Field

from refuge_common.settings import PlatformSettings


class IntakeSettings(PlatformSettings):
    intake_port: int = Field(default=8001, description="Intake's HTTP port.")
    intake_signing_key_file: Path = Field(
        default=Path(".run/intake-signing-key.pem"),
        description="PEM Ed25519 private key signing access tokens (make run creates one).",
    )
    intake_token_ttl_seconds: int = Field(
        default=600, ge=30, le=3600, description="Lifetime of an access token."
    )
    intake_max_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Larger request bodies are refused with 413."
    )
    intake_idempotency_retention_hours: int = Field(
        default=24,
        ge=1,
        description="How long a write's Idempotency-Key answer is kept for retries, then purged.",
    )
