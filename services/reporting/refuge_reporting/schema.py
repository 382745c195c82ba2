from pathlib import Path

from refuge_common.db.migrations import SchemaSpec

SCHEMA = SchemaSpec(
    schema="reporting", role="refuge_reporting", migrations=Path(__file__).parent / "migrations"
)
