"""How far a projector has got: positions against the partitions' ends, and where its time went."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from refuge_reporting.adapters.event_source import Position


@dataclass
class Progress:
    generation: int
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    positions: dict[Position, int] = field(default_factory=dict)
    ends: dict[Position, int | None] = field(default_factory=dict)
    events_applied: int = 0
    dead_lettered: int = 0
    caught_up_at: datetime | None = None
    # Where the time went (seconds): waiting for the broker, decoding and mapping, waiting
    # for the previous batch's transaction. Tells an operator which side a slow rebuild waits on.
    seconds: dict[str, float] = field(
        default_factory=lambda: {"reading": 0.0, "decoding": 0.0, "waiting_for_database": 0.0}
    )
    _first_batch: float | None = None
    _last_batch: float | None = None

    @property
    def events_done(self) -> int:
        return sum(self.positions.values())

    @property
    def events_total(self) -> int:
        return sum(max(end or 0, self.positions.get(p, 0)) for p, end in self.ends.items())

    @property
    def caught_up(self) -> bool:
        return bool(self.ends) and all(
            end is not None and self.positions.get(p, 0) >= end for p, end in self.ends.items()
        )

    @property
    def rate(self) -> float | None:
        """Events per second over the batches applied so far."""

        if self._first_batch is None or self._last_batch is None or self._last_batch <= self._first_batch:
            return None
        return self.events_applied / (self._last_batch - self._first_batch)
