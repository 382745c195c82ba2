"""Reporting's composition root: projections from every topic and the figures API."""

from __future__ import annotations

from fastapi import FastAPI

from refuge_common.auth.principal import Role
from refuge_common.auth.verification import TokenVerifier, principal_dependency
from refuge_common.contract import topics
from refuge_common.contract.base import REGISTRY
from refuge_common.db.migrations import app_dsn
from refuge_common.runtime import ServiceRuntime
from refuge_reporting.adapters.event_source import EventSource
from refuge_reporting.adapters.fact_store import FactStore
from refuge_reporting.adapters.leader_lock import AdvisoryLocks
from refuge_reporting.domain.facts import MAPPERS
from refuge_reporting.entrypoints.http_figures import figures_router
from refuge_reporting.entrypoints.http_rebuild import rebuild_router
from refuge_reporting.entrypoints.http_report import report_router
from refuge_reporting.entrypoints.http_report_session import report_reader, session_router
from refuge_reporting.entrypoints.http_stream import install_stream_page
from refuge_reporting.schema import SCHEMA
from refuge_reporting.service_layer.rebuild import Projections
from refuge_reporting.service_layer.rebuild_processes import WorkerPlan
from refuge_reporting.settings import ReportingSettings


def build_app(settings: ReportingSettings | None = None) -> FastAPI:
    settings = settings or ReportingSettings()
    runtime = ServiceRuntime("reporting", settings, SCHEMA)

    # Batch projection of every topic (not the per-event EventConsumer): one transaction per
    # batch, offsets stored with the facts; see service_layer/projector.py.
    projections = Projections(
        lambda: FactStore(runtime.pool),
        lambda client_id: EventSource(settings.kafka_bootstrap_servers, _PROJECTED_TOPICS, client_id),
        runtime.producer,
        locks=lambda: AdvisoryLocks(runtime.pool),
        batch_size=settings.reporting_batch_size,
        retry=runtime.retry_policy,
        standby_seconds=settings.reporting_standby_seconds,
        workers=_rebuild_workers(settings, runtime),
    )
    runtime.background(projections.run_live)
    for topic in _PROJECTED_TOPICS:  # what the projector counts, for the AsyncAPI document
        counted = [REGISTRY[type_] for type_ in MAPPERS if topic == REGISTRY[type_].TOPIC]
        runtime.consumes(topic, *counted, reader="projector")

    app = runtime.http_app(
        title="Refuge reporting",
        version="0.1.0",
        description="Activity figures rebuilt from the event stream.",
    )
    app.state.runtime = runtime
    app.state.projections = projections
    verifier = TokenVerifier(settings.jwks_url)
    readers = principal_dependency(verifier, Role.CASEWORKER, Role.COORDINATOR, Role.ORG_ADMIN, Role.OPERATOR)
    app.include_router(figures_router(readers, settings.reporting_suppression_threshold))
    app.include_router(rebuild_router(principal_dependency(verifier, Role.OPERATOR)))
    app.include_router(session_router(verifier))
    app.include_router(report_router(report_reader(verifier), settings.reporting_suppression_threshold))
    install_stream_page(app, runtime, settings, verifier)  # operators' live stream page
    return app


_PROJECTED_TOPICS = tuple(topic for topic in topics.ALL if topic != topics.DEADLETTER)


def _rebuild_workers(settings: ReportingSettings, runtime: ServiceRuntime) -> WorkerPlan | None:
    if settings.reporting_rebuild_processes == 0:
        return None  # in the service's own process
    password = settings.database_app_password
    return WorkerPlan(
        dsn=app_dsn(settings.database_url, SCHEMA, password.get_secret_value() if password else None),
        schema=SCHEMA.schema,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topics=_PROJECTED_TOPICS,
        batch_size=settings.reporting_batch_size,
        retry=runtime.retry_policy,
        processes=settings.reporting_rebuild_processes,
        log_level=settings.log_level,
        log_format=settings.log_format,
    )
