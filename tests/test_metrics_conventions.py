"""Every service's metrics follow Prometheus naming conventions, and no label value is an id.

Conventions (https://prometheus.io/docs/practices/naming/): snake_case names with the
application prefix, counters ending in ``_total`` and nothing else ending so, base units
(``_seconds``, ``_bytes``; never milliseconds, minutes, kilobytes or percent), time measured
in seconds. Labels: snake_case names that are not ids, and values from bounded sets: a UUID,
an e-mail address, a phone number or a long number in a label value would put a person or
case in Prometheus, and make one series per person.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import datetime

import httpx
import pytest
from e2e_stack import Stack, api, open_case_with_decision
from e2e_support import wait_until
from metrics_registry import refuge_families
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

NAME = re.compile(r"^refuge_[a-z][a-z0-9]*(_[a-z0-9]+)*$")
LABEL = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
NOT_BASE_UNITS = re.compile(
    r"_(ms|millis|milliseconds|us|microseconds|ns|nanoseconds|minutes|hours|days|"
    r"kb|kilobytes|mb|megabytes|gb|gigabytes|percent)(_|$)"
)
# Lag in records (refuge_consumer_lag) is a count; lag in time (fire lag) is seconds.
TIME_WORDS = re.compile(r"(duration|latency|_age_|_time_|elapsed|fire_lag)")
ID_LABELS = re.compile(r"(^id$|_id$|^(person|case|tenant|organisation|organization|email|phone|user)$)")
ID_VALUES = [
    ("a UUID", re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)),
    ("an e-mail address", re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", re.I)),
    ("a phone number", re.compile(r"\+?\d[\d .-]{7,}\d")),
    ("a long number", re.compile(r"(?<![\d.])\d{5,}(?![\d.])")),
    ("a key or token", re.compile(r"(rfg_|eyJ)[A-Za-z0-9_-]{8,}")),
]
SAMPLE_SUFFIXES = ("_bucket", "_sum", "_count", "_created", "_total")


def naming_problems(family: Metric) -> list[str]:
    """What is wrong with one metric family (as prometheus_client reports it: a counter's
    family name without its ``_total``)."""

    name = family.name
    exposed = name + "_total" if family.type == "counter" else name
    problems = []
    if not NAME.match(name):
        problems.append(f"{exposed}: not snake_case with the refuge_ prefix")
    if family.type != "counter" and name.endswith("_total"):
        problems.append(f"{exposed}: only counters end in _total")
    if family.type == "gauge" and name.endswith(SAMPLE_SUFFIXES):
        problems.append(f"{exposed}: a gauge named like a histogram or counter sample")
    if NOT_BASE_UNITS.search(name):
        problems.append(f"{exposed}: not in base units (seconds, bytes, ratio)")
    if TIME_WORDS.search(name + "_") and not name.endswith("_seconds"):
        problems.append(f"{exposed}: a time must be measured in seconds and end in _seconds")
    if not family.documentation.strip():
        problems.append(f"{exposed}: no help text")
    for sample in family.samples:
        for label in sample.labels:
            if label != "le" and (not LABEL.match(label) or ID_LABELS.search(label)):
                problems.append(f"{exposed}: label {label!r} is not a bounded, non-id label name")
    return sorted(set(problems))


def label_value_problems(families: Iterable[Metric]) -> list[str]:
    problems = set()
    for family in families:
        for sample in family.samples:
            for label, value in sample.labels.items():
                for what, pattern in ID_VALUES:
                    if label != "le" and pattern.search(value):
                        problems.add(f"{sample.name}{{{label}=...}}: a value looks like {what}")
    return sorted(problems)


def test_every_registered_metric_follows_the_naming_conventions() -> None:
    families = refuge_families()
    assert len(families) >= 12  # every service's metrics were found and imported
    assert [p for family in families for p in naming_problems(family)] == []


def test_the_checks_catch_what_they_are_for() -> None:
    registry = CollectorRegistry()
    Counter("refuge_sent_ms", "Time in ms.", ["case_id"], registry=registry).labels(str(uuid.uuid4())).inc()
    Gauge("refuge_queue_age", "Age.", registry=registry).set(1)
    Histogram("refuge_RequestTime", "", registry=registry)
    Gauge("refuge_jobs_total", "Jobs.", ["recipient"], registry=registry).labels("amina@example.org").set(1)
    families = list(registry.collect())
    problems = [p for family in families for p in naming_problems(family)]
    assert any("not in base units" in p for p in problems)
    assert any("'case_id'" in p for p in problems)
    assert any("refuge_queue_age: a time must be" in p for p in problems)
    assert any("refuge_RequestTime: not snake_case" in p for p in problems)
    assert any("no help text" in p for p in problems)
    assert any("refuge_jobs_total: only counters" in p for p in problems)
    values = label_value_problems(families)
    assert any("a UUID" in p for p in values) and any("an e-mail address" in p for p in values)
    ok = CollectorRegistry()
    Counter("refuge_http_requests", "Requests.", ["route", "status"], registry=ok).labels(
        "/cases/{case_id}/facts/decision_notified", "201"
    ).inc()
    assert label_value_problems(ok.collect()) == []


@pytest.mark.e2e
@pytest.mark.integration
def test_the_running_services_expose_conventional_metrics_without_ids(stack: Stack) -> None:
    tenant = stack.onboard("Association de metriques", f"cw-{uuid.uuid4().hex[:8]}@ngo.test")
    case_id = open_case_with_decision(stack, tenant, datetime.fromisoformat("2026-11-02T10:30:00+01:00"))
    with api(stack, tenant) as client:
        assert client.get(f"/cases/{case_id}").status_code == 200  # a route with an id in its path

    def scrape(service: str) -> list[Metric]:
        text = httpx.get(f"{stack.url(service)}/metrics", timeout=10).text
        families = [f for f in text_string_to_metric_families(text) if f.name.startswith("refuge_")]
        # The text format shows a counter's or histogram's creation time as a gauge of its own.
        names = {f.name for f in families}
        return [f for f in families if not (f.name.endswith("_created") and f.name[:-8] in names)]

    def applied_by_deadlines() -> list[Metric] | None:
        families = scrape("deadlines")
        applied = [
            s
            for f in families
            if f.name == "refuge_messages_consumed"
            for s in f.samples
            if s.labels.get("event_type") == "org.refuge.case.decision_notified.v1"
            and s.labels.get("outcome") == "applied"
            and s.value >= 1
        ]
        return families if applied else None

    scraped = {
        "deadlines": wait_until(applied_by_deadlines, timeout=90, what="deadlines' per-handler counter")
    }
    scraped |= {service: scrape(service) for service in ("intake", "notifications", "reporting")}
    for service, families in scraped.items():
        assert any(f.name == "refuge_http_requests" and f.samples for f in families), service
        assert [p for f in families for p in naming_problems(f)] == [], service
        assert label_value_problems(families) == [], service
    routes = {s.labels["route"] for f in scraped["intake"] for s in f.samples if "route" in s.labels}
    assert "/cases/{case_id}" in routes  # the template, never the case's own path
