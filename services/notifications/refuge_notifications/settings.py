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
