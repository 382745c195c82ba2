from pathlib import Path

from refuge_common.db.migrations import SchemaSpec

SOURCE = "/refuge/intake"
SCHEMA = SchemaSpec(
    schema="intake",
    role="refuge_intake",
    migrations=Path(__file__).parent / "migrations",
    keyring="write",
)
