"""``refuge-notifications``: serve and migrate."""

from __future__ import annotations

from refuge_common.service_main import service_cli
from refuge_notifications.schema import SCHEMA
from refuge_notifications.settings import NotificationsSettings

app = service_cli(
    "notifications",
    NotificationsSettings,
    SCHEMA,
    "refuge_notifications.bootstrap:build_app",
    "notifications_port",
)


def main() -> None:
    app()
