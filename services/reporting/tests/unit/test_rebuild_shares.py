"""A rebuild's worker processes read disjoint shares of the partitions that cover them all."""

from __future__ import annotations

import pytest

from refuge_common.contract import topics
from refuge_reporting.adapters.event_source import in_share


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
