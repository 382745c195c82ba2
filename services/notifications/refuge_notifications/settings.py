from datetime import time

from pydantic import Field, SecretStr

from refuge_common.settings import PlatformSettings
from refuge_notifications.domain.quiet_hours import UrgentOverride


class NotificationsSettings(PlatformSettings):
    notifications_port: int = Field(default=8003, description="Notifications' HTTP port.")
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server host.")
    smtp_port: int = Field(default=1025, description="SMTP server port (make run's mail sink: 1025).")
    smtp_username: str | None = Field(default=None, description="SMTP login, if the server wants one.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_use_tls: bool = Field(default=False, description="Connect to the SMTP server over TLS (port 465).")
    smtp_timeout_seconds: int = Field(
        default=30, ge=1, description="Seconds to wait for each SMTP step (connect, each reply)."
    )
    smtp_from: str = Field(default="Refuge <no-reply@refuge.localhost>", description="From address.")
    notifications_max_attempts: int = Field(default=6, ge=1, description="Send attempts before giving up.")
    notifications_send_lease_seconds: int = Field(
        default=60, ge=5, description="After this, a send left unfinished by a dead process is resumed."
    )
    notifications_public_url: str | None = Field(
        default=None,
        description="Base URL at which people and providers reach this service (unsubscribe links, "
        "delivery-receipt callbacks, Twilio signatures); default http://HTTP_HOST:NOTIFICATIONS_PORT.",
    )
    notifications_quiet_hours_start: time = Field(
        default=time(21, 0), description="Local time from which no SMS is sent (recipient's zone)."
    )
    notifications_quiet_hours_end: time = Field(
        default=time(8, 0), description="Local time at which deferred SMS go out."
    )
    notifications_quiet_hours_urgent: UrgentOverride = Field(
        default=UrgentOverride.BEFORE_DUE,
        description="never, before_due (an urgent reminder goes out in quiet hours only if waiting "
        "would bring it after the deadline) or always.",
    )
    notifications_consent_wait_seconds: float = Field(
        default=300,
        ge=0,
        description="How long a beneficiary message waits for the person's consent on its channel "
        "when none has arrived (consents come on refuge.cases.v1, a reminder on refuge.deadlines.v1, "
        "and either may be read first) before it is suppressed as no_consent.",
    )
    notifications_phone_hash_secret: SecretStr | None = Field(
        default=None,
        description="Key of the HMAC of phone numbers (to match STOP replies); derived from the "
        "master key when unset.",
    )
    notifications_unsubscribe_secret: SecretStr | None = Field(
        default=None, description="Signs unsubscribe links; derived from the master key when unset."
    )
    notifications_sms_default_webhook_url: str = Field(
        default="http://127.0.0.1:8025/sms",
        description="Generic webhook used by organisations without an SMS provider of their own "
        "(make run's SMS sink); empty: no SMS for them.",
    )
    notifications_sms_default_inbound_secret: SecretStr | None = Field(
        default=None,
        description="Shared secret of inbound calls (receipts, STOP) for organisations on the default "
        "webhook; unset: refused.",
    )
    notifications_sms_timeout_seconds: float = Field(
        default=15.0, gt=0, description="Seconds to wait for an SMS provider's answer."
    )
    # --- webhooks (docs/webhooks.md) ---
    notifications_webhook_timeout_seconds: float = Field(
        default=15.0, gt=0, le=60, description="Longest a webhook POST may take, connection included."
    )
    notifications_webhook_max_attempts: int = Field(
        default=15, ge=1, description="Attempts at one webhook delivery before it fails."
    )
    notifications_webhook_backoff_initial_seconds: float = Field(
        default=5.0, gt=0, description="Delay before the first webhook retry; doubles per attempt (jitter)."
    )
    notifications_webhook_backoff_max_seconds: float = Field(
        default=21_600.0, gt=0, description="Longest delay between two webhook attempts."
    )
    notifications_webhook_disable_after_failures: int = Field(
        default=10, ge=1, description="An endpoint is disabled after this many deliveries failed in a row."
    )
    notifications_webhook_disable_after_seconds: int = Field(
        default=259_200,
        ge=1,
        description="An endpoint failing without a single success for this long is disabled.",
    )
    notifications_webhook_allow_http_loopback: bool = Field(
        default=False,
        description="Accept http:// endpoints on loopback addresses, and let webhook POSTs connect to "
        "loopback (tests, a developer's machine); otherwise a host resolving to loopback is refused.",
    )
    notifications_sms_rate_per_second: int = Field(
        default=30,
        ge=0,
        description="SMS a second to one provider account, unless the organisation set its own "
        "(refuge-notifications sms set --rate-per-second); 0: no limit.",
    )
    notifications_smtp_rate_per_second: int = Field(
        default=0, ge=0, description="E-mails a second to the SMTP server; 0: no limit."
    )
    notifications_dispatch_concurrency: int = Field(
        default=16,
        ge=1,
        description="Messages the dispatcher hands to one provider account at the same time "
        "(SMTP: at most SMTP_POOL_SIZE); twice as many to all providers together.",
    )
    smtp_pool_size: int = Field(
        default=4,
        ge=1,
        description="SMTP connections kept open and reused, at most (one message at a time each).",
    )
    notifications_digest_hour: int = Field(
        default=7,
        ge=0,
        le=23,
        description="Hour on Monday (office's local time) from which the weekly caseworker digest goes out.",
    )
    notifications_digest_horizon_days: int = Field(
        default=14, ge=1, description="Days ahead the weekly caseworker digest lists deadlines for."
    )
    notifications_digest_interval_seconds: float = Field(
        default=300.0, gt=0, description="Seconds between two checks for weekly digests to plan."
    )
