"""Reporting's composition root: projections from every topic and the figures API."""

from __future__ import annotations

from fastapi import FastAPI

from refuge_common.auth.principal import Role
from refuge_common.auth.verification import TokenVerifier, principal_dependency
from refuge_common.contract import topics
from refuge_common.contract.cases import CaseClosed, CaseOpened
from refuge_common.contract.deadlines import DeadlineComputed
from refuge_common.runtime import ServiceRuntime
from refuge_reporting.entrypoints.http_figures import figures_router
from refuge_reporting.schema import SCHEMA
from refuge_reporting.service_layer import projections
from refuge_reporting.settings import ReportingSettings


def build_app(settings: ReportingSettings | None = None) -> FastAPI:
    settings = settings or ReportingSettings()
    runtime = ServiceRuntime("reporting", settings, SCHEMA)

    cases = runtime.consumer("cases")
    cases.on(CaseOpened)(projections.case_opened)
    cases.on(CaseClosed)(projections.case_closed)
    runtime.subscribe(cases, topics.CASES)

    deadlines = runtime.consumer("deadlines")
    deadlines.on(DeadlineComputed)(projections.deadline_computed)
    runtime.subscribe(deadlines, topics.DEADLINES)

    app = runtime.http_app(
        title="Refuge reporting",
        version="0.1.0",
        description="Activity figures rebuilt from the event stream.",
    )
    app.state.runtime = runtime
    verifier = TokenVerifier(settings.jwks_url)
    readers = principal_dependency(verifier, Role.CASEWORKER, Role.COORDINATOR, Role.ORG_ADMIN)
    app.include_router(figures_router(readers))
    return app
