"""A rebuild worker's counts, reported as totals again and again, move the service's counters
once: by what grew since the worker's previous report."""

from __future__ import annotations

import uuid

from refuge_common.observability.metrics import MESSAGES_CONSUMED
from refuge_reporting.service_layer.worker_metrics import CarriedCounts, totals


def test_each_report_adds_what_grew_since_the_previous_one() -> None:
    topic = f"reporting.test.{uuid.uuid4()}"
    labels = {"consumer": "c", "topic": topic, "event_type": "t", "outcome": "applied"}
    key = (0, tuple(sorted(labels.items())))  # MESSAGES_CONSUMED is the first carried
    worker, other = CarriedCounts(), CarriedCounts()
    worker.add({key: 5.0})
    worker.add({key: 5.0})  # the same total reported again
    worker.add({key: 12.0})
    other.add({key: 3.0})  # another worker's share
    assert totals()[key] == 15.0


def test_totals_read_this_process_counters_by_labels() -> None:
    topic = f"reporting.test.{uuid.uuid4()}"
    MESSAGES_CONSUMED.labels("c", topic, "t", "ignored").inc(4)
    key = (0, (("consumer", "c"), ("event_type", "t"), ("outcome", "ignored"), ("topic", topic)))
    assert totals()[key] == 4.0
