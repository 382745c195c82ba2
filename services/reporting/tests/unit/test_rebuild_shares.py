"""A rebuild's worker processes read disjoint shares of the partitions that cover them all, and
their reports merge into one progress."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from refuge_common.contract import topics
from refuge_reporting.adapters.event_source import in_share
from refuge_reporting.service_layer.rebuild_processes import ProjectorProcesses


@pytest.mark.parametrize("count", [1, 2, 3, 4])
@pytest.mark.parametrize("partitions", [1, 4, 7])
def test_every_partition_is_read_by_exactly_one_share(count: int, partitions: int) -> None:
    for topic in topics.ALL:
        for partition in range(partitions):
            owners = [index for index in range(count) if in_share(topic, partition, (index, count))]
            assert len(owners) == 1, (topic, partition, owners)


def test_without_a_share_every_partition_is_read() -> None:
    assert all(in_share(topic, p, None) for topic in topics.ALL for p in range(4))


def test_topics_of_one_partition_do_not_all_go_to_the_first_share() -> None:
    owners = {index for topic in topics.ALL for index in range(2) if in_share(topic, 0, (index, 2))}
    assert owners == {0, 1}


def _report(positions: dict[tuple[str, int], int], ends: dict[tuple[str, int], int | None]) -> dict[str, Any]:
    return {
        "positions": positions,
        "ends": ends,
        "events_applied": sum(positions.values()),
        "dead_lettered": 0,
        "seconds": {},
        "first_batch": None,
        "last_batch": None,
    }


def test_the_merged_progress_takes_each_partitions_newest_offset_whichever_share_reports_it() -> None:
    """A worker starts from the generation's stored offsets, every partition's: its reports
    carry the other share's partitions as they stood then, lower than their owner's now."""

    a, b = ("refuge.cases.v1", 0), ("refuge.cases.v1", 1)
    processes = ProjectorProcesses(None, 2, None, lock=(0, 0))  # type: ignore[arg-type]
    owner_of_a = _report({a: 4_000}, {a: 4_000})
    owner_of_b = _report({a: 1_200, b: 3_994}, {b: 3_994})  # a as it stood when this one started
    processes._shares = [SimpleNamespace(report=owner_of_a), SimpleNamespace(report=owner_of_b)]  # type: ignore[list-item]

    processes._merge()

    assert processes.progress.positions == {a: 4_000, b: 3_994}
    assert processes.progress.events_done == processes.progress.events_total == 7_994
