from pydantic import Field

from refuge_common.settings import PlatformSettings


class ReportingSettings(PlatformSettings):
    reporting_port: int = Field(default=8004, description="Reporting's HTTP port.")
    reporting_batch_size: int = Field(
        default=20_000, ge=1, description="Most events reporting applies in one transaction."
    )
    reporting_rebuild_processes: int = Field(
        default=2,
        ge=0,
        description="Worker processes a rebuild spreads the partitions over (0: in the service's process).",
    )
    reporting_standby_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Seconds between a standby replica's tries to take over the live projection.",
    )
    reporting_suppression_threshold: int = Field(
        default=5,
        ge=1,
        description="Published or cross-organisation figures hide counts below this (and their complements).",
    )
    # Operators' live stream page (entrypoints/http_stream.py).
    reporting_stream_interval_ms: int = Field(
        default=3_000, ge=200, description="How often the live stream page samples the broker and services."
    )
    reporting_stream_metrics_urls: dict[str, str] = Field(
        default={
            "intake": "http://127.0.0.1:8001/metrics",
            "deadlines": "http://127.0.0.1:8002/metrics",
            "notifications": "http://127.0.0.1:8003/metrics",
            "reporting": "http://127.0.0.1:8004/metrics",
        },
        description="JSON object: service name → its /metrics URL, scraped for the outbox backlog.",
    )
