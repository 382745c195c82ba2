"""The complete v1 catalogue: importing this module registers every event type."""

from __future__ import annotations

from types import ModuleType

from refuge_common.contract import cases, deadlines, directory, notifications, persons
from refuge_common.contract.base import REGISTRY, EventData

TOPIC_MODULES: tuple[ModuleType, ...] = (directory, cases, persons, deadlines, notifications)


def all_event_types() -> dict[str, type[EventData]]:
    """Every published event type, by CloudEvents ``type``, sorted by type.

    Only the catalogue's own modules count: a model registered elsewhere (a test's,
    say) is not part of the published contract and gets no schema.
    """

    modules = {module.__name__ for module in TOPIC_MODULES}
    return {type_: model for type_, model in sorted(REGISTRY.items()) if model.__module__ in modules}
