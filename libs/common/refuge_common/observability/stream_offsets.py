"""Partitions, end offsets, committed offsets and lag: what operators read of the streams.

Shared by the ``refuge`` command line (ops) and reporting's live stream page.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PartitionOffsets:
    topic: str
    partition: int
    begin: int
    end: int
    reported_end: int
    """What ListOffsets(latest) answered; ``end`` may be higher once the last batch is read."""

    @property
    def undercounted(self) -> bool:
        return self.end > self.reported_end


@dataclass(frozen=True)
class GroupPartition:
    topic: str
    partition: int
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(0, self.end - self.committed)


@dataclass(frozen=True)
class GroupView:
    group: str
    state: str
    members: int | None
    partitions: tuple[GroupPartition, ...]
    known: bool = True

    @property
    def total_lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    def lag_by_topic(self) -> dict[str, int]:
        lags: dict[str, int] = {}
        for partition in self.partitions:
            lags[partition.topic] = lags.get(partition.topic, 0) + partition.lag
        return lags
