from pathlib import Path

from refuge_common.db.migrations import SchemaSpec

SOURCE = "/refuge/notifications"
SCHEMA = SchemaSpec(
    schema="notifications",
    role="refuge_notifications",
    migrations=Path(__file__).parent / "migrations",
    keyring="read",
)
