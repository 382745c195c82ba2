"""``refuge-reporting``: serve and migrate."""

from __future__ import annotations

from refuge_common.service_main import service_cli
from refuge_reporting.schema import SCHEMA
from refuge_reporting.settings import ReportingSettings

app = service_cli(
    "reporting", ReportingSettings, SCHEMA, "refuge_reporting.bootstrap:build_app", "reporting_port"
)


def main() -> None:
    app()
