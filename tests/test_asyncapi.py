"""The AsyncAPI documents: generated from the services' declarations, valid for the
official parser, embedding the published JSON Schemas, served by every service."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from refuge_common.contract import topics
from refuge_common.contract.base import REGISTRY
from refuge_common.contract.cases import CaseClosed, CaseOpened
from refuge_common.contract.catalogue import all_event_types
from refuge_common.contract.deadlines import DeadlineComputed
from refuge_common.contract.schemas import DEFAULT_DIRECTORY as SCHEMAS_DIRECTORY
from refuge_common.db.migrations import SchemaSpec
from refuge_common.runtime import ServiceRuntime
from refuge_common.settings import PlatformSettings
from refuge_common.specification.committed import render_all, stale_documents, write_documents
from refuge_common.specification.rendering import AsyncAPIDocument
from refuge_devstack.stack import SERVICES, ensure_secrets

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools" / "asyncapi"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("asyncapi_generate", TOOLS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generator = _load_generator()


@pytest.fixture(scope="module")
def documents() -> dict[str, AsyncAPIDocument]:
    with pytest.MonkeyPatch.context():  # the generator fixes the environment it builds in
        return generator.service_documents()  # type: ignore[no-any-return]


def _validate(*files: Path) -> subprocess.CompletedProcess[str]:
    assert (TOOLS / "node_modules" / "@asyncapi" / "parser").is_dir(), "run `make install` (npm ci)"
    return subprocess.run(
        ["node", str(TOOLS / "validate.mjs"), *map(str, files)], capture_output=True, text=True, check=False
    )


def test_every_service_has_a_document_the_asyncapi_parser_accepts(
    documents: dict[str, AsyncAPIDocument], tmp_path: Path
) -> None:
    assert set(documents) == {service.name for service in SERVICES}
    written = write_documents(tmp_path, render_all(documents))
    result = _validate(*written)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("valid AsyncAPI 3.0.0") == len(SERVICES)


def _broken(document: dict[str, Any], how: str) -> dict[str, Any]:
    broken = copy.deepcopy(document)
    if how == "dangling payload reference":
        message = next(iter(broken["components"]["messages"].values()))
        message["payload"] = {"$ref": "#/components/schemas/NoSuchEvent"}
    elif how == "action of AsyncAPI 2":
        next(iter(broken["operations"].values()))["action"] = "publish"
    elif how == "no info":
        del broken["info"]
    return broken


@pytest.mark.parametrize("how", ["dangling payload reference", "action of AsyncAPI 2", "no info"])
def test_the_check_fails_on_an_invalid_document(
    documents: dict[str, AsyncAPIDocument], tmp_path: Path, how: str
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(documents["deadlines"].to_yaml())
    bad = tmp_path / "bad.yaml"
    bad.write_text(AsyncAPIDocument(_broken(documents["deadlines"].content, how)).to_yaml())
    result = _validate(good, bad)
    assert result.returncode == 1
    assert f"{bad}: INVALID" in result.stderr
    assert f"{good}: valid" in result.stdout


def test_the_check_names_a_stale_a_missing_and_an_orphan_document(
    documents: dict[str, AsyncAPIDocument], tmp_path: Path
) -> None:
    texts = render_all(documents)
    write_documents(tmp_path, texts)
    assert stale_documents(tmp_path, texts) == []
    (tmp_path / "intake.yaml").write_text(texts["intake.yaml"].replace("refuge.cases.v1", "refuge.casez.v1"))
    (tmp_path / "reporting.yaml").unlink()
    (tmp_path / "retired.yaml").write_text("asyncapi: 3.0.0\n")
    assert stale_documents(tmp_path, texts) == [
        "intake.yaml: stale (the code declares something else)",
        "reporting.yaml: missing",
        "retired.yaml: no service generates it any more (delete it)",
    ]


def _relocated(schema: Any) -> Any:
    text = json.dumps(schema).replace('"#/$defs/', '"#/components/schemas/')
    return json.loads(text)


def test_the_documents_embed_the_published_schema_of_every_event_type(
    documents: dict[str, AsyncAPIDocument],
) -> None:
    published_types: set[str] = set()
    for document in documents.values():
        content = document.content
        schemas = content["components"]["schemas"]
        for message in content["components"]["messages"].values():
            types = message["headers"]["properties"]["ce_type"]["enum"]
            payload = message["payload"]
            references = [item["$ref"] for item in payload.get("oneOf", [payload])]
            assert [ref.rsplit("/", 1)[1] for ref in references] == [REGISTRY[t].__name__ for t in types]
            for type_ in types:
                file = json.loads((SCHEMAS_DIRECTORY / f"{type_}.json").read_text())
                definitions = file.pop("$defs", {})
                file["x-refuge-schema-id"] = file.pop("$id")
                del file["$schema"]
                assert schemas[REGISTRY[type_].__name__] == _relocated(file), type_
                for name, definition in definitions.items():
                    assert schemas[name] == _relocated(definition), (type_, name)
        for operation in content["operations"].values():
            if operation["action"] == "send":
                channel = content["channels"][operation["channel"]["$ref"].rsplit("/", 1)[1]]
                message_name = channel["messages"]["Message"]["$ref"].rsplit("/", 1)[1]
                message = content["components"]["messages"][message_name]
                published_types.update(message["headers"]["properties"]["ce_type"]["enum"])
    # Every type of the contract is published by some service, and documented there.
    assert published_types == set(all_event_types())


def _probe_runtime() -> ServiceRuntime:
    spec = SchemaSpec(schema="probe", role="refuge_probe", migrations=Path("/nonexistent"))
    return ServiceRuntime("probe", PlatformSettings(kafka_bootstrap_servers="k1:9092,k2:9092"), spec)


async def _ignore(*_args: object) -> None:
    return None


def test_a_subscriber_documents_the_types_its_consumer_handles_and_a_declaration_what_is_published() -> None:
    runtime = _probe_runtime()
    cases = runtime.consumer("cases")
    cases.on(CaseOpened, CaseClosed)(_ignore)
    runtime.subscribe(cases, topics.CASES)
    runtime.publishes(topics.DEADLINES, DeadlineComputed)
    content = runtime.asyncapi().content

    assert [server["host"] for server in content["servers"].values()] == ["k1:9092", "k2:9092"]
    received = content["channels"]["refuge.probe.cases:refuge.cases.v1"]
    assert received["address"] == topics.CASES
    assert content["operations"]["refuge.probe.cases:refuge.cases.v1"]["action"] == "receive"
    message = content["components"]["messages"][
        received["messages"]["SubscribeMessage"]["$ref"].split("/")[-1]
    ]
    assert message["payload"] == {
        "oneOf": [{"$ref": "#/components/schemas/CaseOpened"}, {"$ref": "#/components/schemas/CaseClosed"}]
    }
    headers = message["headers"]["properties"]
    assert headers["ce_type"]["enum"] == [CaseOpened.TYPE, CaseClosed.TYPE]
    assert "pattern" in headers["ce_source"] and "ce_tenantid" in headers
    assert message["bindings"]["kafka"]["key"]["type"] == "string"
    assert "correlationId" not in message

    sent = content["channels"]["refuge.probe:refuge.deadlines.v1"]
    assert content["operations"]["refuge.probe:refuge.deadlines.v1"]["action"] == "send"
    message = content["components"]["messages"][sent["messages"]["Message"]["$ref"].split("/")[-1]]
    assert message["payload"] == {"$ref": "#/components/schemas/DeadlineComputed"}
    assert message["headers"]["properties"]["ce_source"]["const"] == "/refuge/probe"


def test_a_publication_is_refused_for_an_event_of_another_topic() -> None:
    runtime = _probe_runtime()
    with pytest.raises(ValueError, match=r"org\.refuge\.case\.opened\.v1 do not travel on"):
        runtime.publishes(topics.DEADLINES, CaseOpened)


def test_without_named_events_a_publication_covers_every_type_of_its_topic() -> None:
    runtime = _probe_runtime()
    runtime.publishes(topics.NOTIFICATIONS)
    content = runtime.asyncapi().content
    message = next(iter(content["components"]["messages"].values()))
    expected = [t for t, model in all_event_types().items() if model.TOPIC == topics.NOTIFICATIONS]
    assert message["headers"]["properties"]["ce_type"]["enum"] == expected


def test_every_service_serves_its_document_without_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ensure_secrets(tmp_path).items():
        monkeypatch.setenv(name, value)
    for service in SERVICES:
        app = importlib.import_module(f"{service.module}.bootstrap").build_app()
        expected = app.state.runtime.asyncapi().content
        client = TestClient(app)  # no lifespan: nothing is started, and nothing needs to be
        answer = client.get("/asyncapi.json")
        assert answer.status_code == 200, service.name
        assert answer.json() == expected
        answer = client.get("/asyncapi.yaml")
        assert answer.headers["content-type"].startswith("application/yaml")
        assert yaml.safe_load(answer.text) == expected
        page = client.get("/asyncapi")
        assert page.status_code == 200 and "AsyncApiStandalone.render" in page.text
        assert "TryItOutPlugin" not in page.text  # the page cannot publish to the broker
        if service.name == "intake":  # whose tests require credentials on every documented route
            assert not [path for path in app.openapi()["paths"] if path.startswith("/asyncapi")]


def test_a_reader_without_a_consumer_group_is_documented_by_its_declaration() -> None:
    runtime = _probe_runtime()
    runtime.consumes(topics.CASES, CaseClosed, reader="projector")
    content = runtime.asyncapi().content
    channel = content["channels"]["refuge.probe.projector:refuge.cases.v1"]
    assert "without a consumer group" in channel["description"]
    assert content["operations"]["refuge.probe.projector:refuge.cases.v1"]["action"] == "receive"
    message = content["components"]["messages"][
        channel["messages"]["SubscribeMessage"]["$ref"].split("/")[-1]
    ]
    assert message["payload"] == {"$ref": "#/components/schemas/CaseClosed"}
    assert message["headers"]["properties"]["ce_type"]["enum"] == [CaseClosed.TYPE]
    assert "const" not in message["headers"]["properties"]["ce_source"]


def test_the_generated_files_do_not_depend_on_the_machine_that_generates_them(tmp_path: Path) -> None:
    """Another shell (broker, keys, hash seed): the same bytes, so that the check means
    "the code changed", never "someone else ran it"."""

    shells = [
        {"PYTHONHASHSEED": "1"},
        {"PYTHONHASHSEED": "2", "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092,kafka-2:9092"},
    ]
    outputs = []
    for number, shell in enumerate(shells):
        directory = tmp_path / str(number)
        subprocess.run(
            [sys.executable, str(TOOLS / "generate.py"), str(directory)],
            check=True,
            capture_output=True,
            env={**os.environ, **shell},
        )
        outputs.append({path.name: path.read_bytes() for path in sorted(directory.glob("*.yaml"))})
    assert len(outputs[0]) == len(SERVICES)
    assert outputs[0] == outputs[1]


def test_a_topic_published_twice_is_refused_rather_than_half_documented() -> None:
    runtime = _probe_runtime()
    runtime.publishes(topics.CASES, CaseOpened)
    runtime.publishes(topics.CASES, CaseClosed)
    with pytest.raises(ValueError, match="twice"):
        runtime.asyncapi()
