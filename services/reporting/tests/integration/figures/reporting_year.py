"""A scripted year of two organisations' activity, as contract events, and what was in it.

Two years (2025, 2026) of an organisation's activity, and a smaller second organisation,
generated from a seeded random source. ``Year`` keeps what was published in plain Python,
so that tests work out every figure independently of reporting's SQL.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx

from refuge_common.auth.principal import Principal, Role
from refuge_common.contract import cases, deadlines, directory, notifications, persons
from refuge_common.contract.base import EventData
from refuge_common.contract.envelope import Envelope, to_record
from refuge_common.messaging.producer import EventProducer
from refuge_devstack.tokens import LocalIssuer

GENDERS = ["female", "male", "other", None]  # None: not stated
NATIONALITIES = [["AF"], ["SY", "TR"], ["GN"], [], ["CI"]]
OUTCOMES = ["resolved_remotely", "appointment_given", "referred", "other"]


@dataclass
class Case:
    case_id: UUID
    office: UUID
    person: UUID | None
    channel: str
    case_type: str
    opened_at: datetime
    closed_at: datetime | None = None
    outcome: str | None = None
    activity: list[tuple[datetime, UUID]] = field(default_factory=list)  # (when, office)
    detained_at: list[datetime] = field(default_factory=list)

    @property
    def person_key(self) -> UUID:
        return self.person or self.case_id


@dataclass
class Org:
    tenant: UUID
    offices: list[UUID]
    genders: dict[UUID, str] = field(default_factory=dict)  # final gender of each person
    cases: list[Case] = field(default_factory=list)
    contacts: list[tuple[datetime, UUID, str, str]] = field(default_factory=list)  # at, office, ch, outcome
    deadlines: list[tuple[UUID, datetime, str | None, datetime | None]] = field(default_factory=list)
    notifications: list[tuple[UUID, str, datetime]] = field(default_factory=list)


@dataclass
class Year:
    a: Org
    b: Org
    envelopes: list[Envelope]


def _at(rng: random.Random, year: int) -> datetime:
    start = datetime(year, 1, 1, 12, tzinfo=UTC)
    return start + timedelta(days=rng.randrange(0, 360), hours=rng.randrange(-6, 6))


def _script_org(rng: random.Random, envelopes: list[Envelope], persons_count: int, offices: int) -> Org:
    org = Org(uuid.uuid4(), [uuid.uuid4() for _ in range(offices)])
    t = org.tenant
    kinds = ["drop_in_clinic", "phone_line", "detention_centre_team"]
    channels = ["in_person", "phone", "detention_centre"]

    def emit(data: EventData, at: datetime) -> None:
        envelopes.append(Envelope("/refuge/intake", data, t, time=at))

    epoch = datetime(2024, 12, 1, tzinfo=UTC)
    emit(directory.OrganisationRegistered(organisation_id=t, name=f"Org {t.hex[:6]}"), epoch)
    for i, office in enumerate(org.offices):
        emit(
            directory.OfficeOpened(
                office_id=office,
                organisation_id=t,
                name=f"Office {i}",
                kind=kinds[i % 3],
                timezone="Europe/Paris",
                jurisdiction="FR",
            ),
            epoch,
        )
    people = [uuid.uuid4() for _ in range(persons_count)]
    for n, person in enumerate(people):
        gender = GENDERS[n % 4]
        first = "male" if gender == "female" else None  # registered wrongly, corrected later
        emit(persons.PersonRegistered(person_id=person, **({"gender": first} if first else {})), epoch)
        emit(
            persons.PersonUpdated(
                person_id=person,
                nationalities=NATIONALITIES[n % 5],
                age_band=["18-25", "26-35", "36-50"][n % 3],
                **({"gender": gender} if gender else {}),
            ),
            epoch + timedelta(hours=1),
        )
        org.genders[person] = gender or "not_stated"
    emit(persons.PersonErased(person_id=people[0]), epoch + timedelta(days=2))  # still counted
    for number in range(persons_count * 3):
        year = 2025 if number % 3 == 0 else 2026
        office_index = rng.randrange(offices)
        person = rng.choice(people) if number % 7 else None  # some anonymous phone calls
        case = Case(
            uuid.uuid4(),
            org.offices[office_index],
            person,
            channels[office_index % 3],
            rng.choice(["asylum", "removal_appeal", "detention_assistance"]),
            _at(rng, year),
        )
        org.cases.append(case)
        emit(
            cases.CaseOpened(
                case_id=case.case_id,
                organisation_id=t,
                office_id=case.office,
                case_type=case.case_type,
                jurisdiction="FR",
                channel=case.channel,
                opened_at=case.opened_at,
                person_id=person,
            ),
            case.opened_at,
        )
        case.activity.append((case.opened_at, case.office))
        for _ in range(rng.randrange(3)):
            at = case.opened_at + timedelta(days=rng.randrange(1, 40))
            outcome = rng.choice(OUTCOMES)
            emit(
                cases.CaseContactLogged(
                    case_id=case.case_id, channel=case.channel, outcome=outcome, contacted_at=at
                ),
                at,
            )
            org.contacts.append((at, case.office, case.channel, outcome))
            case.activity.append((at, case.office))
        if office_index % 3 == 2:
            at = case.opened_at + timedelta(days=1)
            emit(cases.CaseDetentionStarted(case_id=case.case_id, started_at=at, kind="administrative"), at)
            case.detained_at.append(at)
            case.activity.append((at, case.office))
        if rng.random() < 0.5:
            _deadline(rng, org, case, emit)
        if rng.random() < 0.4:
            case.closed_at = case.opened_at + timedelta(days=rng.randrange(5, 60))
            case.outcome = rng.choice(["favourable", "unfavourable", "information_given"])
            emit(
                cases.CaseClosed(case_id=case.case_id, outcome=case.outcome, closed_at=case.closed_at),
                case.closed_at,
            )
    return org


def _deadline(rng: random.Random, org: Org, case: Case, emit: Any) -> None:
    deadline, computed = uuid.uuid4(), case.opened_at + timedelta(hours=2)
    due = computed + timedelta(days=30)
    emit(
        deadlines.DeadlineComputed(
            deadline_id=deadline,
            case_id=case.case_id,
            office_id=case.office,
            purpose="appeal",
            rule="fr.oqtf.ordinary",
            legal_basis="CESEDA L.911-1",
            due=due,
            timezone="Europe/Paris",
        ),
        computed,
    )
    fate = rng.choice(["met", "missed", None])
    if fate == "met":
        emit(
            deadlines.DeadlineMet(deadline_id=deadline, case_id=case.case_id, met_at=due - timedelta(days=3)),
            due,
        )
    elif fate == "missed":
        emit(deadlines.DeadlineMissed(deadline_id=deadline, case_id=case.case_id, due=due), due)
    org.deadlines.append((deadline, computed, fate, due - timedelta(days=3) if fate == "met" else due))
    notification = uuid.uuid4()
    common = dict(
        notification_id=notification,
        channel="email",
        recipient_kind="caseworker",
        trigger_event_id=str(deadline),
        trigger_source="/refuge/deadlines",
        case_id=case.case_id,
    )
    sent_at = computed + timedelta(days=20)
    if rng.random() < 0.2:
        emit(notifications.NotificationSuppressed(**common, reason="opted_out"), sent_at)
        org.notifications.append((notification, "suppressed", sent_at))
        return
    emit(notifications.NotificationSent(**common), sent_at)
    org.notifications.append((notification, "sent", sent_at))
    final = "delivered" if rng.random() < 0.8 else "failed"
    if final == "delivered":
        emit(notifications.NotificationDelivered(**common), sent_at + timedelta(minutes=1))
    else:
        emit(
            notifications.NotificationFailed(**common, reason="undeliverable"), sent_at + timedelta(minutes=1)
        )
    org.notifications.append((notification, final, sent_at + timedelta(minutes=1)))


def script_year() -> Year:
    rng = random.Random(6)
    envelopes: list[Envelope] = []
    a = _script_org(rng, envelopes, persons_count=40, offices=3)
    b = _script_org(rng, envelopes, persons_count=8, offices=1)
    return Year(a, b, envelopes)


@dataclass
class Reporting:
    client: httpx.AsyncClient
    issuer: LocalIssuer
    producer: EventProducer
    app: Any

    def token(self, org: Org | UUID, role: Role, office: UUID | None = None) -> dict[str, str]:
        tenant = org.tenant if isinstance(org, Org) else org
        principal = Principal(f"key-{role.value}", tenant, role, office)
        return {"Authorization": f"Bearer {self.issuer.token(principal)}"}

    async def publish(self, envelopes: list[Envelope]) -> None:
        await self.producer.send_in_order([to_record(e) for e in envelopes])

    async def get(self, path: str, headers: dict[str, str], **params: Any) -> Any:
        response = await self.client.get(path, headers=headers, params=params)
        assert response.status_code == 200, response.text
        return response.json() if "json" in response.headers["content-type"] else response.text
