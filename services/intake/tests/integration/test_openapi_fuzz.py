"""Schemathesis against intake's OpenAPI document: no 5xx, and every answer is the documented one.

Intake is served by uvicorn on a free port, in a thread of its own (its own event loop,
pool, producer and relay), on the session's database and broker, with organisation A
of the ``intake`` fixture. Schemathesis reads ``/openapi.json`` and, for every
operation, sends valid and invalid requests (query, body, headers); path ids are
sometimes swapped for real records of A so that the handlers behind the 404 get fuzzed
too. Every default check applies: no server error, status codes, content types,
headers and bodies as documented, invalid data rejected, valid data accepted.

Bounded: ``MAX_EXAMPLES`` per operation (``REFUGE_TEST_FUZZ_EXAMPLES``), with no example
database, so a run takes tens of seconds and does not depend on earlier ones.
"""

from __future__ import annotations

import base64
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from refuge_devstack.ports import free_port
from refuge_intake.adapters.token_issuer import generate_signing_key
from refuge_intake.bootstrap import build_app
from refuge_intake.settings import IntakeSettings

if TYPE_CHECKING:
    from conftest import Intake

pytestmark = pytest.mark.integration
# Per operation; REFUGE_TEST_FUZZ_EXAMPLES=500 for a longer hunt by hand.
MAX_EXAMPLES = int(os.environ.get("REFUGE_TEST_FUZZ_EXAMPLES", "20"))
# The same examples on every run unless REFUGE_TEST_FUZZ_RANDOM=1: a CI run then fails only
# on a change, and a random hunt (which found the NUL and surrogate 500s) stays a command away.
DERANDOMIZE = os.environ.get("REFUGE_TEST_FUZZ_RANDOM") != "1"


@pytest.fixture(scope="module")
def served_intake(intake: Intake) -> Iterator[str]:
    """A second intake app on the same database, served over HTTP; its base URL."""

    port = free_port()
    config = uvicorn.Config(
        build_app(intake.settings), host="127.0.0.1", port=port, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="intake-under-fuzz", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "intake did not start under uvicorn"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def records_of_a(intake: Intake, served_intake: str) -> dict[str, list[str]]:
    """Real ids of organisation A, for the fuzzer to hit besides random ones."""

    a = intake.a
    with httpx.Client(
        base_url=served_intake, headers={"Authorization": f"Bearer {a.caseworker_key}"}
    ) as client:
        persons = [
            client.post("/persons", json={"family_name": f"Fuzz{n}"}).raise_for_status().json()["person_id"]
            for n in range(3)
        ]
        cases = [
            client.post("/cases", json={"case_type": "asylum", "channel": "phone", "person_id": person})
            .raise_for_status()
            .json()["case_id"]
            for person in persons
        ]
    return {"person_id": persons, "case_id": cases}


def _document() -> dict[str, Any]:
    """Intake's OpenAPI document, from an app built (not started) with throwaway settings.

    Loaded when the module is collected: schemathesis' fixture-based loader does not
    work with this pytest (it sets ``Node._nodeid``, which pytest 9.2 no longer has).
    """

    with tempfile.TemporaryDirectory(prefix="intake-openapi-") as directory:
        key_file = Path(directory) / "signing.pem"
        generate_signing_key(key_file)
        settings = IntakeSettings(
            REFUGE_MASTER_KEY=base64.b64encode(os.urandom(32)).decode(), intake_signing_key_file=key_file
        )
        return build_app(settings).openapi()


schema = schemathesis.openapi.from_dict(_document())
# A body over INTAKE_MAX_BODY_BYTES is refused before it is read: 413 rejects invalid data too.
_rejection = schema.config.checks.negative_data_rejection
_rejection.expected_statuses = [*_rejection.expected_statuses, "413"]
# Filled by the ``callers`` fixture: the API key each kind of operation is meant for.
KEYS: dict[str, str] = {}


@schema.auth.auth(refresh_interval=None, retry_on=[])
class IntakeKeys:
    """Credentials through schemathesis, so that it leaves them out when it tests their absence."""

    def get(self, case: Any, _context: Any) -> str:
        if case.path.startswith("/audit"):
            return KEYS["org_admin"]  # the only role that may read it
        if case.method == "DELETE":
            return KEYS["coordinator"]  # erasing a person
        return KEYS["caseworker"]  # bound to an office: opens cases without naming one

    def set(self, case: Any, data: str, _context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture(scope="module", autouse=True)
def callers(intake: Intake) -> None:
    KEYS.update(
        caseworker=intake.a.caseworker_key,
        coordinator=intake.a.coordinator_key,
        org_admin=intake.a.org_admin_key,
    )


@schemathesis.check
def refused_only_by_rules_the_schema_cannot_state(ctx: Any, response: Any, case: Any) -> bool | None:
    """A request the document calls valid may be refused, but not by request validation.

    Intake refuses well-formed requests that break a rule no JSON Schema states (a phone
    number that is none, a decision notified in the future, an unknown office): the
    answer is a 4xx naming the field. A refusal by FastAPI's own validation (a list of
    pydantic errors other than a validator's ``value_error``) means the document and the
    validation disagree, which is a bug of the document. Replaces schemathesis'
    ``positive_data_acceptance``, which counts every such refusal as one.
    """

    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code not in (400, 422):
        return None
    detail = response.json().get("detail")
    if isinstance(detail, str):
        return None
    # string_too_short: names, address lines and notes are stripped before their length is
    # checked, so "\n" fits minLength 1 in the document and is refused (the document
    # cannot say "not only spaces" without a pattern that every regex dialect reads alike).
    disagreements = [
        error for error in detail if error.get("type") not in ("value_error", "string_too_short")
    ]
    if disagreements:
        raise AssertionError(f"a request valid by the document was refused by validation: {disagreements}")
    return None


def _is_uuid(value: Any) -> bool:
    try:
        return str(uuid.UUID(str(value))) == value
    except ValueError:
        return False


@schema.parametrize()
@schema.given(data=st.data())
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=DERANDOMIZE,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_intake_answers_as_documented(
    case: Any, data: st.DataObject, served_intake: str, records_of_a: dict[str, list[str]]
) -> None:
    # Random ids only ever reach "not found": now and then use one of A's records
    # instead, so that fuzzed bodies and queries meet real cases and persons. Only in
    # place of a well-formed id: a malformed one is itself what is being tested.
    for name, value in (case.path_parameters or {}).items():
        if name in records_of_a and _is_uuid(value):
            case.path_parameters[name] = data.draw(st.sampled_from([value, *records_of_a[name]]), label=name)
    case.call_and_validate(
        base_url=served_intake,
        timeout=30,
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
        additional_checks=[refused_only_by_rules_the_schema_cannot_state],
    )
