"""What each event contributes to the fact tables: pure, no I/O.

A fact row is keyed so that applying the same event twice (a replay, a duplicate from a
retried send) writes nothing new: facts that never change are inserted once on their
natural key or on the event's ``source`` + ``id``; the few facts that carry a current state
(a person's coarse attributes, an office's name) keep the newest by event time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from refuge_common.contract import cases, deadlines, directory, notifications, persons
from refuge_common.contract.envelope import Envelope

NOT_STATED = "not_stated"
UNKNOWN = "unknown"
STATELESS = "stateless"


@dataclass(frozen=True)
class FactTable:
    name: str
    columns: tuple[str, ...]  # in insert order, without ``generation``
    key: tuple[str, ...]  # the natural key, without ``generation``
    newest_by: str | None = None  # a state: keep the row with the latest value of this column

    @property
    def key_positions(self) -> tuple[int, ...]:
        return tuple(self.columns.index(c) for c in self.key)


TABLES: dict[str, FactTable] = {
    t.name: t
    for t in (
        FactTable(
            "offices",
            ("office_id", "tenant_id", "name", "kind", "jurisdiction", "version"),
            ("office_id",),
            newest_by="version",
        ),
        FactTable(
            "cases",
            (
                "case_id",
                "tenant_id",
                "office_id",
                "person_id",
                "case_type",
                "jurisdiction",
                "channel",
                "opened_at",
            ),
            ("case_id",),
        ),
        FactTable("case_closings", ("case_id", "tenant_id", "outcome", "closed_at"), ("case_id",)),
        FactTable(
            "persons",
            ("person_id", "tenant_id", "gender", "nationality", "age_band", "version"),
            ("person_id",),
            newest_by="version",
        ),
        FactTable("person_erasures", ("person_id", "tenant_id", "erased_at"), ("person_id",)),
        FactTable(
            "contacts",
            ("source", "event_id", "tenant_id", "case_id", "office_id", "channel", "outcome", "contacted_at"),
            ("source", "event_id"),
        ),
        FactTable(
            "interviews",
            ("source", "event_id", "tenant_id", "case_id", "authority", "held_at"),
            ("source", "event_id"),
        ),
        FactTable(
            "detentions",
            ("source", "event_id", "tenant_id", "case_id", "kind", "started_at"),
            ("source", "event_id"),
        ),
        FactTable(
            "deadlines",
            ("deadline_id", "tenant_id", "case_id", "office_id", "purpose", "due", "computed_at"),
            ("deadline_id",),
        ),
        FactTable(
            "deadline_outcomes",
            ("deadline_id", "outcome", "tenant_id", "case_id", "at"),
            ("deadline_id", "outcome"),
        ),
        FactTable(
            "notifications",
            (
                "notification_id",
                "status",
                "tenant_id",
                "case_id",
                "channel",
                "recipient_kind",
                "reason",
                "at",
            ),
            ("notification_id", "status"),
        ),
    )
}


_KEY_POSITIONS = {name: table.key_positions for name, table in TABLES.items()}
_NEWEST_POSITION = {
    name: table.columns.index(table.newest_by) for name, table in TABLES.items() if table.newest_by
}


class FactRow(NamedTuple):
    """A tuple, not a dataclass: a rebuild makes one per event (0.44 µs each as a frozen
    dataclass, measured; a third of that as a named tuple)."""

    table: str
    tenant_id: UUID
    values: tuple[Any, ...]  # in the order of TABLES[table].columns


def nationality_of(data: persons.PersonRegistered | persons.PersonUpdated) -> str:
    """One nationality per person for counting: the first recorded (statistics count a
    person once), ``stateless`` when recorded so, ``unknown`` when nothing is."""

    if data.nationalities:
        return data.nationalities[0]
    return STATELESS if data.stateless else UNKNOWN


def _person(e: Envelope, t: UUID) -> list[FactRow]:
    d = e.data
    assert isinstance(d, persons.PersonRegistered | persons.PersonUpdated)
    band = d.age_band.value if d.age_band else UNKNOWN
    return [FactRow("persons", t, (d.person_id, t, d.gender.value, nationality_of(d), band, e.time))]


def _office(e: Envelope, t: UUID) -> list[FactRow]:
    d = e.data
    assert isinstance(d, directory.OfficeOpened | directory.OfficeUpdated)
    return [FactRow("offices", t, (d.office_id, t, d.name, d.kind.value, d.jurisdiction, e.time))]


def _case_opened(e: Envelope, t: UUID) -> list[FactRow]:
    d = e.data
    assert isinstance(d, cases.CaseOpened)
    values = (
        d.case_id,
        t,
        d.office_id,
        d.person_id,
        d.case_type.value,
        d.jurisdiction,
        d.channel.value,
        d.opened_at,
    )
    return [FactRow("cases", t, values)]


def _case_closed(e: Envelope, t: UUID) -> list[FactRow]:
    d = e.data
    assert isinstance(d, cases.CaseClosed)
    return [FactRow("case_closings", t, (d.case_id, t, d.outcome.value, d.closed_at))]


def _contact(e: Envelope, t: UUID) -> list[FactRow]:
    d = e.data
    assert isinstance(d, cases.CaseContactLogged)
    values = (e.source, e.id, t, d.case_id, d.office_id, d.channel.value, d.outcome.value, d.contacted_at)
    return [FactRow("contacts", t, values)]


def _interview(e: Envelope, t: UUID) -> list[FactRow]:
    d = e.data
    assert isinstance(d, cases.CaseInterviewHeld)
    return [FactRow("interviews", t, (e.source, e.id, t, d.case_id, d.authority or UNKNOWN, d.held_at))]


def _detention(e: Envelope, t: UUID) -> list[FactRow]:
    d = e.data
    assert isinstance(d, cases.CaseDetentionStarted)
    kind = d.kind.value if d.kind else UNKNOWN
    return [FactRow("detentions", t, (e.source, e.id, t, d.case_id, kind, d.started_at))]


def _erased(e: Envelope, t: UUID) -> list[FactRow]:
    d = e.data
    assert isinstance(d, persons.PersonErased)
    return [FactRow("person_erasures", t, (d.person_id, t, d.erased_at or e.time))]


def _deadline(e: Envelope, t: UUID) -> list[FactRow]:
    d = e.data
    assert isinstance(d, deadlines.DeadlineComputed)
    values = (d.deadline_id, t, d.case_id, d.office_id, d.purpose.value, d.due, e.time)
    return [FactRow("deadlines", t, values)]


def _deadline_outcome(outcome: str, at: Callable[[Any, Envelope], datetime]) -> _Mapper:
    def rows(e: Envelope, t: UUID) -> list[FactRow]:
        d = e.data
        assert isinstance(d, deadlines.DeadlineMet | deadlines.DeadlineMissed | deadlines.DeadlineCancelled)
        return [FactRow("deadline_outcomes", t, (d.deadline_id, outcome, t, d.case_id, at(d, e)))]

    return rows


def _notification(status: str) -> _Mapper:
    def rows(e: Envelope, t: UUID) -> list[FactRow]:
        d = e.data
        assert isinstance(d, _NOTIFICATION_TYPES)
        reason = getattr(d, "reason", None)
        values = (
            d.notification_id,
            status,
            t,
            d.case_id,
            d.channel.value,
            d.recipient_kind.value,
            reason.value if reason is not None else "",
            e.time,
        )
        return [FactRow("notifications", t, values)]

    return rows


_Mapper = Callable[[Envelope, UUID], list[FactRow]]
_NOTIFICATION_TYPES = (
    notifications.NotificationSent,
    notifications.NotificationDelivered,
    notifications.NotificationFailed,
    notifications.NotificationSuppressed,
)

MAPPERS: dict[str, _Mapper] = {
    directory.OfficeOpened.TYPE: _office,
    directory.OfficeUpdated.TYPE: _office,
    cases.CaseOpened.TYPE: _case_opened,
    cases.CaseClosed.TYPE: _case_closed,
    cases.CaseContactLogged.TYPE: _contact,
    cases.CaseInterviewHeld.TYPE: _interview,
    cases.CaseDetentionStarted.TYPE: _detention,
    persons.PersonRegistered.TYPE: _person,
    persons.PersonUpdated.TYPE: _person,
    persons.PersonErased.TYPE: _erased,
    deadlines.DeadlineComputed.TYPE: _deadline,
    deadlines.DeadlineMet.TYPE: _deadline_outcome("met", lambda d, e: d.met_at),
    deadlines.DeadlineMissed.TYPE: _deadline_outcome("missed", lambda d, e: d.due),
    deadlines.DeadlineCancelled.TYPE: _deadline_outcome("cancelled", lambda d, e: e.time),
    notifications.NotificationSent.TYPE: _notification("sent"),
    notifications.NotificationDelivered.TYPE: _notification("delivered"),
    notifications.NotificationFailed.TYPE: _notification("failed"),
    notifications.NotificationSuppressed.TYPE: _notification("suppressed"),
}


class NoTenant(ValueError):
    """An event that reporting counts arrived without its ``tenantid``."""


def rows_of(envelope: Envelope) -> list[FactRow]:
    """The fact rows of one event; none for a type reporting does not count."""

    mapper = MAPPERS.get(envelope.type)
    if mapper is None:
        return []
    if envelope.tenant_id is None:
        raise NoTenant(f"{envelope.type} without tenantid")
    return mapper(envelope, envelope.tenant_id)


def collapse(rows: Iterable[FactRow]) -> dict[str, list[FactRow]]:
    """Per table, one row per natural key (the first, or the newest for a state), so that a
    batch never touches a row twice in one statement and duplicates inside it vanish."""

    kept: dict[str, dict[Any, FactRow]] = {}
    for row in rows:
        positions = _KEY_POSITIONS[row.table]
        values = row.values
        key = values[positions[0]] if len(positions) == 1 else tuple(values[i] for i in positions)
        bucket = kept.get(row.table)
        if bucket is None:
            bucket = kept[row.table] = {}
        existing = bucket.get(key)
        if existing is None:
            bucket[key] = row
        else:
            at = _NEWEST_POSITION.get(row.table)
            if at is not None and values[at] > existing.values[at]:
                bucket[key] = row
    return {name: list(bucket.values()) for name, bucket in kept.items()}


def organisation_names(envelopes: Iterable[Envelope]) -> dict[UUID, str | None]:
    """Tenants seen in a batch, with a name when their registration is in it."""

    found: dict[UUID, str | None] = {}
    names: dict[UUID, str | None] = {}
    for e in envelopes:
        if e.tenant_id is not None:
            found[e.tenant_id] = None
        if isinstance(e.data, directory.OrganisationRegistered):
            names[e.data.organisation_id] = e.data.name
    return found | names
