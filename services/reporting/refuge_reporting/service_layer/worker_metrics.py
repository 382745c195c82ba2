"""A rebuild's per-event metrics, counted in its worker processes, shown by the service.

Each worker process counts what its projector consumed in its own Prometheus registry,
which nothing scrapes. So a worker's progress reports carry its counters' totals by labels,
and the service's process adds to its own counters what grew since that worker's previous
report: an operator sees a rebuild's consumption on the service's ``/metrics`` the same
whether it ran in the service's process or in workers. Totals rather than deltas, so that
a report never read (the parent drains the pipe, but a worker may die) loses nothing the
next one does not carry; what a worker counted after its last report before dying is lost,
as are the facts it had not committed.
"""

from __future__ import annotations

from prometheus_client import Counter

from refuge_common.observability.metrics import MESSAGE_FAILURES, MESSAGES_CONSUMED, MESSAGES_DEAD_LETTERED

CARRIED: tuple[Counter, ...] = (MESSAGES_CONSUMED, MESSAGES_DEAD_LETTERED, MESSAGE_FAILURES)

# (index in CARRIED, sorted label items) -> the count so far; plain tuples: sent pickled.
Totals = dict[tuple[int, tuple[tuple[str, str], ...]], float]


def totals() -> Totals:
    """This process's counts of every carried counter, by labels."""

    found: Totals = {}
    for index, counter in enumerate(CARRIED):
        for family in counter.collect():
            for sample in family.samples:
                if sample.name.endswith("_total"):  # not the ``_created`` timestamps
                    found[(index, tuple(sorted(sample.labels.items())))] = sample.value
    return found


class CarriedCounts:
    """In the service's process: one worker's totals as last reported, and the counters
    moved on by what grew since."""

    def __init__(self) -> None:
        self._seen: Totals = {}

    def add(self, reported: Totals) -> None:
        for key, value in reported.items():
            grown = value - self._seen.get(key, 0.0)
            if grown > 0:
                index, labels = key
                CARRIED[index].labels(**dict(labels)).inc(grown)
                self._seen[key] = value
