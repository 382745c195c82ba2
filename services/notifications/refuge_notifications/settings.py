from pydantic import Field, SecretStr

from refuge_common.settings import PlatformSettings


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
