"""What the services register with Prometheus, and which metric names a PromQL expression uses.

Shared by the metric-convention test and the dashboard / alert-rule test.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
from prometheus_client import REGISTRY
from prometheus_client.metrics_core import Metric

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIRS = [
    ROOT / "libs/common/refuge_common",
    ROOT / "ops/refuge_ops",
    *sorted(ROOT.glob("services/*/refuge_*")),
]
# Grafana's own variables have no meaning to a PromQL parser: give them values it accepts.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
}


def import_metric_modules() -> list[str]:
    """Import every module of the services and libraries that uses prometheus_client, so that
    everything they register is in the default registry. Found by their source, not by
    importing everything: a module's import may start things (``__main__``)."""

    imported = []
    for package_dir in PACKAGE_DIRS:
        for path in sorted(package_dir.rglob("*.py")):
            if path.name == "__main__.py" or "prometheus_client" not in path.read_text():
                continue
            relative = path.relative_to(package_dir.parent).with_suffix("")
            name = ".".join(relative.parts).removesuffix(".__init__")
            importlib.import_module(name)
            imported.append(name)
    return imported


def refuge_families() -> list[Metric]:
    import_metric_modules()
    return [family for family in REGISTRY.collect() if family.name.startswith("refuge_")]


def exposed_names() -> set[str]:
    """Every sample name a scrape of the services can show (``x_total`` of counter ``x``...)."""

    import_metric_modules()
    names = set()
    for family in REGISTRY.collect():
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    return names


def metric_names(expression: str) -> set[str]:
    """The metric names an expression selects (parsing it: a syntax error fails here)."""

    for variable, value in GRAFANA_VARIABLES.items():
        expression = expression.replace(variable, value)
    expression = re.sub(r"\$\{?[A-Za-z_]\w*\}?", ".*", expression)  # $job, ${job}: regex matchers
    return set(_selected(promql_parser.parse(expression)))


def _selected(node: Any) -> Iterator[str]:
    if isinstance(node, promql_parser.VectorSelector):
        if node.name:
            yield node.name
        for matcher in node.matchers.matchers:
            if matcher.name == "__name__":
                yield matcher.value
        return
    if isinstance(node, promql_parser.MatrixSelector):
        yield from _selected(node.vector_selector)
        return
    for attribute in ("expr", "lhs", "rhs", "param"):
        child = getattr(node, attribute, None)
        if child is not None:
            yield from _selected(child)
    for argument in getattr(node, "args", None) or ():
        yield from _selected(argument)
