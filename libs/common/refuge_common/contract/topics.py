"""Topic names of the v1 contract. A topic is versioned with its contract."""

from typing import Final

DIRECTORY: Final = "refuge.directory.v1"
CASES: Final = "refuge.cases.v1"
PERSONS: Final = "refuge.persons.v1"
DEADLINES: Final = "refuge.deadlines.v1"
NOTIFICATIONS: Final = "refuge.notifications.v1"
DEADLETTER: Final = "refuge.deadletter.v1"

ALL: Final = (DIRECTORY, CASES, PERSONS, DEADLINES, NOTIFICATIONS, DEADLETTER)
