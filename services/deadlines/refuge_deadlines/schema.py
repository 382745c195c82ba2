from pathlib import Path

from refuge_common.db.migrations import SchemaSpec

SOURCE = "/refuge/deadlines"
SCHEMA = SchemaSpec(
    schema="deadlines",
    role="refuge_deadlines",
    migrations=Path(__file__).parent / "migrations",
    # To read an unaccompanied minor's birth date from its seal (age-out deadlines).
    keyring="read",
)
