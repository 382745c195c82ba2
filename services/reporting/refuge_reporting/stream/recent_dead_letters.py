"""The dead letters of the last hour as the stream page shows them: how many, and the newest.

Kept in bounded memory whatever arrives: a count per second of the window and the ``keep``
newest figures, not every dead letter. A storm of dead letters (a bad deploy, a poisoned
topic) is when operators open the page, and when a list of every one of them would grow
the reporting process by hundreds of bytes per dead letter, an hour long.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from datetime import datetime, timedelta

from refuge_reporting.stream.figures import DeadLetterFigure


class RecentDeadLetters:
    def __init__(self, window: timedelta, keep: int) -> None:
        self._window = window
        self._keep = keep
        self._per_second: deque[list[int]] = deque()  # [second, count], oldest first
        self._count = 0
        # The newest ``keep`` as a min-heap on (time, -arrival): of dead letters of the same
        # instant the first to arrive counts as the newer, as a stable sort by time would
        # list them; the number also spares comparing figures.
        self._newest: list[tuple[datetime, int, DeadLetterFigure]] = []
        self._arrivals = itertools.count()

    def add(self, at: datetime, figure: DeadLetterFigure) -> None:
        second = int(at.timestamp())
        buckets = self._per_second
        if buckets and buckets[-1][0] == second:  # the usual case: the newest second
            buckets[-1][1] += 1
        else:
            # Partitions are read one after another, so times arrive out of order: a late
            # one is counted in the bucket of its own second, wherever that is.
            position = len(buckets)
            while position > 0 and buckets[position - 1][0] > second:
                position -= 1
            if position > 0 and buckets[position - 1][0] == second:
                buckets[position - 1][1] += 1
            else:
                buckets.insert(position, [second, 1])
        self._count += 1
        entry = (at, -next(self._arrivals), figure)
        if len(self._newest) < self._keep:
            heapq.heappush(self._newest, entry)
        elif entry[:2] > self._newest[0][:2]:
            heapq.heapreplace(self._newest, entry)

    def prune(self, now: datetime) -> None:
        """Forget what arrived before the window that ends at ``now``. Counted by the second:
        the dead letters of the second the window starts in count whole."""

        oldest = now - self._window
        first_second = int(oldest.timestamp())
        while self._per_second and self._per_second[0][0] < first_second:
            self._count -= self._per_second.popleft()[1]
        while self._newest and self._newest[0][0] < oldest:
            heapq.heappop(self._newest)

    def clear(self) -> None:
        self._per_second.clear()
        self._newest.clear()
        self._count = 0

    @property
    def count(self) -> int:
        return self._count

    def newest(self) -> list[DeadLetterFigure]:
        """The latest kept, newest first."""

        return [figure for _, _, figure in sorted(self._newest, reverse=True, key=lambda e: e[:2])]

    @property
    def buckets(self) -> int:
        """Seconds with a count kept (at most the window's)."""

        return len(self._per_second)
