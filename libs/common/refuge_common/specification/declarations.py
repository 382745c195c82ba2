"""What a service declares it consumes and publishes: the input of its AsyncAPI document."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from refuge_common.contract.base import EventData
from refuge_common.contract.catalogue import all_event_types


@dataclass(frozen=True)
class Channel:
    """Event types travelling on one topic, read by one reader or published by the service."""

    topic: str
    events: tuple[type[EventData], ...]
    reader: str | None = None  # who reads them (e.g. refuge.deadlines.cases); None: published
    group: str | None = None  # the reader's Kafka consumer group, if it has one
    description: str | None = None

    @property
    def published(self) -> bool:
        return self.reader is None

    @property
    def types(self) -> list[str]:
        return [model.TYPE for model in self.events]


def publication(topic: str, events: Sequence[type[EventData]], description: str | None = None) -> Channel:
    """Events published on ``topic``: all of the catalogue's if none is named (one service
    owns a topic and publishes every type on it)."""

    return Channel(topic, _on_topic(topic, events), description=description)


def consumption(
    topic: str,
    events: Sequence[type[EventData]],
    *,
    reader: str,
    group: str | None = None,
    description: str | None = None,
) -> Channel:
    """Events a reader that is not a FastStream subscriber takes from ``topic`` (all of the
    catalogue's if none is named)."""

    return Channel(topic, _on_topic(topic, events), reader=reader, group=group, description=description)


def _on_topic(topic: str, events: Sequence[type[EventData]]) -> tuple[type[EventData], ...]:
    chosen = tuple(events) or events_on(topic)
    if not chosen:
        raise ValueError(f"no event type of the contract travels on {topic!r}")
    strays = [model.TYPE for model in chosen if topic != model.TOPIC]
    if strays:
        raise ValueError(f"{', '.join(strays)} do not travel on {topic!r}")
    return chosen


def events_on(topic: str) -> tuple[type[EventData], ...]:
    """Every event type of the published catalogue that travels on ``topic``, sorted by type."""

    return tuple(model for model in all_event_types().values() if topic == model.TOPIC)
