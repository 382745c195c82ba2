"""Deadlines' composition root: consumers, timer worker and HTTP app."""

from __future__ import annotations

from fastapi import FastAPI

from refuge_common.auth.principal import Role
from refuge_common.auth.verification import TokenVerifier, principal_dependency
from refuge_common.contract import topics
from refuge_common.contract.cases import CaseOpened
from refuge_common.contract.directory import OfficeOpened, OfficeUpdated
from refuge_common.contract.persons import PersonErased, PersonRegistered, PersonUpdated
from refuge_common.crypto.keyring import Keyring, MasterKeyWrapper
from refuge_common.runtime import ServiceRuntime
from refuge_deadlines.entrypoints.http_calendar import calendar_router
from refuge_deadlines.entrypoints.timer_worker import TimerWorker
from refuge_deadlines.schema import SCHEMA
from refuge_deadlines.service_layer import handlers
from refuge_deadlines.service_layer.persons import PersonHandler
from refuge_deadlines.service_layer.recompute import Recomputer
from refuge_deadlines.settings import DeadlinesSettings


def build_app(settings: DeadlinesSettings | None = None) -> FastAPI:
    settings = settings or DeadlinesSettings()
    if settings.master_key is None:
        raise SystemExit("REFUGE_MASTER_KEY is not set: deadlines cannot read when a minor comes of age")
    keyring = Keyring(MasterKeyWrapper(settings.master_key.get_secret_value()))
    runtime = ServiceRuntime("deadlines", settings, SCHEMA)
    runtime.publishes(topics.DEADLINES)  # every type on it, through the outbox (AsyncAPI document)

    recompute = Recomputer(settings.reminder_policy())
    directory = runtime.consumer("directory")
    directory.on(OfficeOpened, OfficeUpdated)(handlers.OfficeChangeHandler(recompute))
    runtime.subscribe(directory, topics.DIRECTORY)

    cases = runtime.consumer("cases")
    cases.on(CaseOpened)(handlers.CaseOpenedHandler(recompute))
    cases.on(*handlers.FACT_KINDS)(handlers.CaseFactHandler(recompute))
    runtime.subscribe(cases, topics.CASES)

    persons = runtime.consumer("persons")
    persons.on(PersonRegistered, PersonUpdated, PersonErased)(PersonHandler(recompute, keyring))
    runtime.subscribe(persons, topics.PERSONS)

    timers = TimerWorker(
        lambda: runtime.pool,
        batch_size=settings.deadlines_timer_batch_size,
        poll_interval=settings.deadlines_timer_poll_ms / 1000,
    )
    runtime.background(timers.run)

    app = runtime.http_app(
        title="Refuge deadlines", version="0.1.0", description="Legal deadlines of cases and their reminders."
    )
    app.state.runtime = runtime
    verifier = TokenVerifier(settings.jwks_url)
    readers = principal_dependency(verifier, Role.CASEWORKER, Role.COORDINATOR, Role.ORG_ADMIN)
    secret = settings.deadlines_feed_secret
    app.include_router(calendar_router(readers, secret.get_secret_value() if secret else None))
    return app
