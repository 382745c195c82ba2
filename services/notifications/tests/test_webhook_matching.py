"""Which events reach which endpoint, what may be registered, what an answer means."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from refuge_common.contract.catalogue import all_event_types
from refuge_common.messaging.retry import RetryPolicy
from refuge_notifications.domain.webhook_attempts import (
    AttemptPolicy,
    DisableReason,
    Verdict,
    judge,
    retry_after_seconds,
)
from refuge_notifications.domain.webhook_endpoints import (
    EndpointScope,
    EventFacts,
    InvalidEndpoint,
    check_event_types,
    check_url,
    matches,
    matching,
    offered_event_types,
)

ORG, OTHER_ORG = uuid.uuid4(), uuid.uuid4()
OFFICE, OTHER_OFFICE = uuid.uuid4(), uuid.uuid4()
CREATED = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
OPENED = "org.refuge.case.opened.v1"
CLOSED = "org.refuge.case.closed.v1"


def endpoint(tenant: uuid.UUID = ORG, office: uuid.UUID | None = None, *types: str) -> EndpointScope:
    return EndpointScope(uuid.uuid4(), tenant, frozenset(types or (OPENED,)), office, CREATED)


def event(
    tenant: uuid.UUID = ORG,
    type_: str = OPENED,
    offices: frozenset[uuid.UUID] = frozenset(),
    at: datetime = CREATED + timedelta(seconds=1),
) -> EventFacts:
    return EventFacts(tenant, type_, at, offices)


def test_an_event_goes_only_to_its_own_organisations_endpoints() -> None:
    ours, theirs = endpoint(ORG), endpoint(OTHER_ORG)
    assert matching([ours, theirs], event(ORG)) == [ours]
    assert matching([ours, theirs], event(OTHER_ORG)) == [theirs]


def test_only_the_subscribed_types() -> None:
    assert matches(endpoint(ORG, None, OPENED, CLOSED), event(type_=CLOSED))
    assert not matches(endpoint(ORG, None, OPENED), event(type_=CLOSED))


def test_an_office_endpoint_gets_its_office_and_nothing_organisation_wide() -> None:
    office_endpoint, org_endpoint = endpoint(ORG, OFFICE), endpoint(ORG)
    assert matches(office_endpoint, event(offices=frozenset({OFFICE})))
    assert matches(office_endpoint, event(offices=frozenset({OTHER_OFFICE, OFFICE})))  # a transfer
    assert not matches(office_endpoint, event(offices=frozenset({OTHER_OFFICE})))
    assert not matches(office_endpoint, event(offices=frozenset()))
    assert matches(org_endpoint, event(offices=frozenset({OTHER_OFFICE})))
    assert matches(org_endpoint, event(offices=frozenset()))


def test_no_event_from_before_the_endpoint_existed() -> None:
    assert matches(endpoint(), event(at=CREATED))
    assert not matches(endpoint(), event(at=CREATED - timedelta(microseconds=1)))


def test_the_offered_catalogue() -> None:
    offered = offered_event_types()
    assert "org.refuge.person.erased.v1" in offered
    assert "org.refuge.person.registered.v1" not in offered
    assert "org.refuge.person.updated.v1" not in offered
    topics = set(offered.values())
    assert topics == {
        "refuge.directory.v1",
        "refuge.cases.v1",
        "refuge.deadlines.v1",
        "refuge.notifications.v1",
        "refuge.persons.v1",
    }
    non_person = {t for t, model in all_event_types().items() if model.TOPIC != "refuge.persons.v1"}
    assert non_person <= set(offered)


def test_event_types_are_checked_by_name_and_position() -> None:
    assert check_event_types([OPENED, CLOSED, OPENED]) == [OPENED, CLOSED]
    with pytest.raises(InvalidEndpoint) as refused:
        check_event_types([OPENED, "org.refuge.person.registered.v1"])
    assert refused.value.field == "event_types.1"
    with pytest.raises(InvalidEndpoint) as refused:
        check_event_types(["case.opened"])
    assert refused.value.field == "event_types.0"
    with pytest.raises(InvalidEndpoint) as refused:
        check_event_types([])
    assert refused.value.field == "event_types"


@pytest.mark.parametrize(
    "url",
    [
        "https://crm.example.org/hooks/refuge",
        "https://crm.example.org:8443/hooks?tenant=a",
        "https://[2001:4860:4860::8888]/hook",
        "https://8.8.8.8/hook",
    ],
)
def test_https_urls_are_accepted(url: str) -> None:
    assert check_url(url, allow_http_loopback=False) == url


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://crm.example.org/hook", False),
        ("http://crm.example.org/hook", True),  # the loopback exception is for loopback only
        ("http://127.0.0.1:8080/hook", False),
        ("https://127.0.0.1/hook", False),
        ("https://localhost/hook", False),
        ("https://10.0.0.5/hook", False),
        ("https://169.254.169.254/latest/meta-data", False),
        ("https://[fd00::1]/hook", False),
        ("https://user:pass@crm.example.org/hook", False),
        ("https://crm.example.org/hook#part", False),
        ("ftp://crm.example.org/hook", False),
        ("https:///hook", False),
        ("https://crm.example.org:port/hook", False),
        ("https://crm.example.org/" + "a" * 2048, False),
    ],
)
def test_other_urls_are_refused_naming_the_field(url: str, allowed: bool) -> None:
    with pytest.raises(InvalidEndpoint) as refused:
        check_url(url, allow_http_loopback=allowed)
    assert refused.value.field == "url"
    assert "pass" not in refused.value.message and "example" not in refused.value.message


def test_http_to_loopback_only_when_the_setting_allows_it() -> None:
    for url in ("http://127.0.0.1:8080/hook", "http://localhost:9/x", "http://[::1]:8080/"):
        assert check_url(url, allow_http_loopback=True) == url


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.DELIVERED),
        (204, Verdict.DELIVERED),
        (None, Verdict.RETRY),
        (408, Verdict.RETRY),
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
        (502, Verdict.RETRY),
        (503, Verdict.RETRY),
        (301, Verdict.FAILED),
        (400, Verdict.FAILED),
        (401, Verdict.FAILED),
        (404, Verdict.FAILED),
        (413, Verdict.FAILED),
        (410, Verdict.GONE),
    ],
)
def test_what_an_answer_means(status: int | None, verdict: Verdict) -> None:
    assert judge(status) is verdict


def test_retry_after_is_honoured_within_limits() -> None:
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds(" 7 ") == 7.0
    assert retry_after_seconds("99999999") == 6 * 3600.0
    assert retry_after_seconds("Wed, 21 Oct 2026 07:28:00 GMT") is None
    assert retry_after_seconds(None) is None


POLICY = AttemptPolicy(
    max_attempts=4,
    backoff=RetryPolicy(max_attempts=4, initial_delay=10.0, max_delay=60.0),
    disable_after_failures=3,
    disable_after=timedelta(days=3),
)


def test_backoff_grows_with_jitter_and_gives_up_after_the_last_attempt() -> None:
    for attempts, ceiling in ((1, 10.0), (2, 20.0), (3, 40.0)):
        delays = {POLICY.next_delay(attempts, None) for _ in range(50)}
        assert all(d is not None and ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered
    assert POLICY.next_delay(4, None) is None
    assert POLICY.next_delay(1, 300.0) == 300.0  # the receiver asked for longer


def test_an_endpoint_is_disabled_after_failures_in_a_row_or_failing_too_long() -> None:
    now = datetime.now(UTC)
    assert POLICY.should_disable(2, now - timedelta(days=1), now) is None
    assert POLICY.should_disable(3, now, now) is DisableReason.CONSECUTIVE_FAILURES
    assert POLICY.should_disable(0, now - timedelta(days=3), now) is DisableReason.FAILING_TOO_LONG
    assert POLICY.should_disable(0, None, now) is None
