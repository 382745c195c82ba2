"""The Grafana dashboard and the Prometheus alert rules only use metrics the services register.

A metric renamed or removed in code fails here instead of leaving an empty panel or an
alert that can never fire.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from metrics_registry import ROOT, exposed_names, metric_names

DASHBOARD = ROOT / "ops/grafana/refuge.json"
ALERTS = ROOT / "ops/prometheus/alerts.yml"
RUNBOOK = ROOT / "docs/runbook.md"
# Series Prometheus makes itself, not a service.
SYNTHETIC = {"up"}


def _targets(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def _rules() -> list[dict[str, Any]]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


def _unknown(names: set[str]) -> set[str]:
    return names - exposed_names() - SYNTHETIC


def test_the_dashboard_is_importable_grafana_json() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used = set(re.findall(r"\$\{?(\w+)", target["expr"])) - {"__rate_interval"}
            assert used <= variables, (panel["title"], used - variables)


def test_every_dashboard_expression_parses_and_names_registered_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    targets = _targets(dashboard)
    assert len(targets) >= 20
    for title, expression in targets:
        names = metric_names(expression)
        assert names, (title, expression)
        assert not _unknown(names), f"{title}: no service registers {_unknown(names)}"
    for variable in dashboard["templating"]["list"]:
        for metric in re.findall(r"label_values\((\w+)", variable.get("definition", "")):
            assert not _unknown({metric}), variable["name"]


def test_the_dashboard_covers_what_operators_watch() -> None:
    used = set().union(*(metric_names(e) for _, e in _targets(json.loads(DASHBOARD.read_text()))))
    for metric in (
        "refuge_messages_consumed_total",
        "refuge_message_failures_total",
        "refuge_messages_dead_lettered_total",
        "refuge_message_processing_seconds_bucket",
        "refuge_consumer_lag",
        "refuge_messages_published_total",
        "refuge_outbox_backlog",
        "refuge_outbox_oldest_age_seconds",
        "refuge_reminders_due",
        "refuge_reminder_fire_lag_seconds_bucket",
        "refuge_notifications_total",
        "refuge_webhook_deliveries_total",
        "refuge_http_requests_total",
        "refuge_http_request_duration_seconds_bucket",
    ):
        assert metric in used, metric


@pytest.mark.parametrize("rule", _rules(), ids=lambda rule: rule["alert"])
def test_every_alert_parses_names_registered_metrics_and_has_a_runbook_section(
    rule: dict[str, Any],
) -> None:
    names = metric_names(rule["expr"])
    assert names and not _unknown(names), f"{rule['alert']}: no service registers {_unknown(names)}"
    assert rule["labels"]["severity"] in {"warning", "critical"}
    anchor = rule["annotations"]["runbook_url"].split("#", 1)[1]
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("#")
    }
    assert anchor in headings, f"{rule['alert']}: docs/runbook.md has no section #{anchor}"


def test_an_unknown_metric_is_caught() -> None:
    # The check itself can fail: a misspelt name is reported, a syntax error raises.
    assert _unknown(metric_names("sum(rate(refuge_mesages_consumed_total[5m]))")) == {
        "refuge_mesages_consumed_total"
    }
    with pytest.raises(ValueError, match="parenthesis"):
        metric_names("sum(rate(refuge_messages_consumed_total[5m])")
