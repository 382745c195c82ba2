"""What the stream page shows, computed from samples: no I/O here.

Every figure is a count, a rate, a topic, a consumer group, an event type or a service name:
bounded names an operator needs, never an id of a person, a case or an organisation.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from refuge_common.contract import catalogue
from refuge_common.contract import topics as contract_topics

_KNOWN_TYPES = frozenset(catalogue.all_event_types())
_CONSUMER_NAME = re.compile(r"^refuge\.[a-z_]+\.[a-z_]+$")
# An exception class name, as describe_failure() writes it; a forged header's words never match.
_ERROR_CLASS = re.compile(r"^[A-Z][A-Za-z0-9_]{0,80}(Error|Exception)$")
REASON_KINDS = ("failed", "rejected", "malformed")


@dataclass(frozen=True)
class TopicFigure:
    topic: str
    end_offset: int
    events_per_second: float | None
    """None until two samples span some time."""


@dataclass(frozen=True)
class GroupFigure:
    group: str
    state: str
    members: int | None
    lag: int
    lag_by_topic: dict[str, int]


@dataclass(frozen=True)
class DeadLetterFigure:
    failed_at: str
    consumer: str
    origin_topic: str
    event_type: str
    reason: str


@dataclass(frozen=True)
class OutboxFigure:
    service: str
    backlog: float | None
    oldest_age_seconds: float | None
    error: str | None = None


@dataclass(frozen=True)
class Snapshot:
    taken_at: str
    topics: list[TopicFigure] = field(default_factory=list)
    groups: list[GroupFigure] = field(default_factory=list)
    dead_letters_last_hour: int = 0
    recent_dead_letters: list[DeadLetterFigure] = field(default_factory=list)
    outboxes: list[OutboxFigure] = field(default_factory=list)
    broker_error: str | None = None


class RateWindow:
    """Events per second per topic from end offsets sampled over a sliding window.

    A rate over a window rather than between the last two samples: one sample taken late
    (a slow broker answer) would otherwise show a spike and then a dip.
    """

    def __init__(self, window_seconds: float) -> None:
        self._window = window_seconds
        self._samples: deque[tuple[float, dict[str, int]]] = deque()

    def add(self, at: float, ends: dict[str, int]) -> dict[str, float | None]:
        self._samples.append((at, ends))
        while len(self._samples) > 2 and at - self._samples[1][0] >= self._window:
            self._samples.popleft()
        first_at, first = self._samples[0]
        elapsed = at - first_at
        rates: dict[str, float | None] = {}
        for topic, end in ends.items():
            if elapsed <= 0 or topic not in first:
                rates[topic] = None
            else:
                rates[topic] = max(0, end - first[topic]) / elapsed
        return rates


def dead_letter_figure(headers: dict[str, bytes], failed_at: datetime) -> DeadLetterFigure:
    """The safe part of a dead letter's headers. A header that does not have the shape the
    platform gives it is shown as ``?``: a malformed record's headers could hold anything."""

    def text(name: str) -> str:
        return headers.get(name, b"").decode(errors="replace")

    consumer = text("refuge_dlq_consumer")
    topic = text("refuge_dlq_topic")
    event_type = text("ce_type")
    return DeadLetterFigure(
        failed_at=failed_at.astimezone(UTC).isoformat(timespec="seconds"),
        consumer=consumer if _CONSUMER_NAME.match(consumer) else "?",
        origin_topic=topic if topic in contract_topics.ALL else "?",
        event_type=event_type if event_type in _KNOWN_TYPES else "?",
        reason=reason_summary(text("refuge_dlq_error")),
    )


def reason_summary(error: str) -> str:
    """``failed: KeyError at handlers.py:12 (...)`` → ``failed: KeyError``. The rest of a reason
    names fields and code, never values, but a one-line kind is all the page needs."""

    kind, _, rest = error.partition(":")
    if kind not in REASON_KINDS:
        return "?"
    first = rest.strip().split(" ", 1)[0].rstrip(":")
    return f"{kind}: {first}" if kind == "failed" and _ERROR_CLASS.match(first) else kind
