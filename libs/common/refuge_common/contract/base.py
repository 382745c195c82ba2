"""The base of every event payload and the registry of event types.

An event type is declared once, as a pydantic model decorated with
:func:`event_type`, which records its CloudEvents ``type``, its topic and the
field holding the aggregate id (the CloudEvents ``subject`` and the Kafka key).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

TYPE_PATTERN = re.compile(r"^org\.refuge\.[a-z_]+\.[a-z_]+\.v[1-9][0-9]*$")


class EventData(BaseModel):
    """Payload of a Refuge event.

    Unknown fields are ignored when reading so that a consumer keeps working
    when a producer adds an optional field (see docs/contract.md).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    TYPE: ClassVar[str]
    TOPIC: ClassVar[str]
    SUBJECT_FIELD: ClassVar[str]

    def subject(self) -> str:
        return str(getattr(self, self.SUBJECT_FIELD))


E = TypeVar("E", bound=type[EventData])

REGISTRY: dict[str, type[EventData]] = {}


def event_type(type_: str, *, topic: str, subject: str) -> Callable[[E], E]:
    """Register a payload model as the data of CloudEvents type ``type_``."""

    if not TYPE_PATTERN.match(type_):
        raise ValueError(f"event type {type_!r} is not org.refuge.<aggregate>.<event>.v<N>")

    def register(cls: E) -> E:
        if type_ in REGISTRY:
            raise ValueError(f"event type {type_!r} registered twice")
        if subject not in cls.__pydantic_fields__:
            raise ValueError(f"{cls.__name__} has no subject field {subject!r}")
        cls.TYPE = type_
        cls.TOPIC = topic
        cls.SUBJECT_FIELD = subject
        REGISTRY[type_] = cls
        return cls

    return register
