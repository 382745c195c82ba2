"""The operators' live stream page in headless Chromium, served by reporting on the real broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from playwright.async_api import Page, async_playwright

from refuge_common.auth.principal import Principal, Role
from refuge_common.contract import topics
from refuge_common.contract.cases import CaseOpened
from refuge_common.contract.envelope import new_event, to_record
from refuge_common.messaging.deadletter import dead_letter_record
from refuge_common.messaging.producer import EventProducer
from refuge_common.service_main import migrate_service
from refuge_devstack.ports import free_port
from refuge_devstack.testing import eventually
from refuge_devstack.tokens import LocalIssuer
from refuge_reporting.bootstrap import build_app
from refuge_reporting.schema import SCHEMA
from refuge_reporting.settings import ReportingSettings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def reporting_url(
    kafka_bootstrap_servers: str, database_url: str, issuer: LocalIssuer
) -> AsyncIterator[str]:
    port, nothing_there = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    settings = ReportingSettings(
        kafka_bootstrap_servers=kafka_bootstrap_servers,
        database_url=database_url,
        jwks_url=issuer.jwks_url,
        consumer_session_timeout_ms=3000,
        reporting_stream_interval_ms=300,
        reporting_stream_metrics_urls={
            "reporting": f"{url}/metrics",
            "intake": f"http://127.0.0.1:{nothing_there}/metrics",
        },
    )
    await migrate_service(settings, SCHEMA)
    server = uvicorn.Server(
        uvicorn.Config(build_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    await eventually(lambda: _true(server.started), within=60)
    try:
        yield url
    finally:
        server.should_exit = True
        await serving


async def _true(value: bool) -> bool:
    return value


@pytest.fixture
async def producer(kafka_bootstrap_servers: str) -> AsyncIterator[EventProducer]:
    producer = EventProducer(kafka_bootstrap_servers, "stream-page-tests")
    await producer.start()
    yield producer
    await producer.stop()


async def _publish_cases(producer: EventProducer, tenant: uuid.UUID, count: int) -> None:
    events = [
        new_event(
            "/refuge/intake",
            CaseOpened(
                case_id=uuid.uuid4(),
                organisation_id=tenant,
                office_id=uuid.uuid4(),
                case_type="removal_appeal",
                jurisdiction="FR",
                channel="in_person",
                opened_at="2026-01-05T10:00:00+01:00",
            ),
            tenant,
        )
        for _ in range(count)
    ]
    await producer.send_in_order([to_record(e) for e in events])


async def _lagging_group(servers: str, name: str) -> None:
    """A consumer group that committed offset 0 on every partition of the cases topic."""

    consumer = AIOKafkaConsumer(bootstrap_servers=servers, group_id=name, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # partitions_for_topic answers from this metadata
        partitions = consumer.partitions_for_topic(topics.CASES) or set()
        assert partitions
        tps = [TopicPartition(topics.CASES, p) for p in partitions]
        consumer.assign(tps)
        await consumer.commit({tp: OffsetAndMetadata(0, "") for tp in tps})
    finally:
        await consumer.stop()


async def _dead_letter(producer: EventProducer, consumer: str) -> None:
    """What a consumer writes when it gives up on an event (the platform's own builder)."""

    record = SimpleNamespace(
        topic=topics.CASES,
        partition=0,
        offset=0,
        key=b"k",
        value=b"{}",
        headers=[("ce_type", b"org.refuge.case.opened.v1")],
    )
    letter = dead_letter_record(record, consumer=consumer, error="failed: KeyError at x.py:1 (h)", attempts=3)
    await producer.send_in_order([letter])


async def _text(page: Page, selector: str) -> str | None:
    locator = page.locator(selector)
    return (await locator.first.text_content()) if await locator.count() else None


async def test_an_operator_watches_figures_move_live(
    reporting_url: str,
    issuer: LocalIssuer,
    producer: EventProducer,
    kafka_bootstrap_servers: str,
    chromium_executable: str,
    artifacts_dir: Path,
) -> None:
    tenant = uuid.uuid4()
    await _publish_cases(producer, tenant, 1)  # the topic exists before the page opens
    group = f"refuge-stream-test-{uuid.uuid4().hex[:8]}"
    await _lagging_group(kafka_bootstrap_servers, group)
    operator = issuer.token(Principal(key_id="op", organisation_id=uuid.uuid4(), role=Role.OPERATOR))

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_executable)
        try:
            page = await browser.new_page()
            await page.goto(f"{reporting_url}/stream")
            await page.wait_for_selector("#login:not([hidden])")  # no cookie yet: the token form
            await page.fill("#token", operator)
            await page.click("#login button")
            await page.wait_for_selector("#figures:not([hidden])")

            cases_end = f'tr[data-topic="{topics.CASES}"] td.end-offset'

            async def end_offset() -> int | None:
                text = await _text(page, cases_end)
                return int(text) if text else None

            before = await eventually(end_offset, within=30)
            await _publish_cases(producer, tenant, 25)

            async def moved() -> int | None:
                after = await end_offset()
                return after if after is not None and after >= before + 25 else None

            await eventually(moved, within=30)

            async def rate() -> float | None:
                text = await _text(page, f'tr[data-topic="{topics.CASES}"] td.rate')
                return float(text) if text and text != "–" and float(text) > 0 else None

            assert await eventually(rate, within=30) > 0

            async def lag() -> int | None:
                text = await _text(page, f'tr[data-group="{group}"] td.lag')
                return int(text) if text and int(text) > 0 else None

            assert await eventually(lag, within=30) >= 26

            count_before = int(await _text(page, "#dead-letter-count") or 0)
            await _dead_letter(producer, "refuge.streamtest.cases")

            async def dead_letter_shown() -> str | None:
                count = int(await _text(page, "#dead-letter-count") or 0)
                rows = await page.locator("#dead-letters tr").all_text_contents()
                mine = [row for row in rows if "refuge.streamtest.cases" in row]
                return mine[0] if count > count_before and mine else None

            row = await eventually(dead_letter_shown, within=30)
            assert "failed: KeyError" in row and topics.CASES in row and "x.py" not in row

            async def outboxes() -> tuple[str, str] | None:
                mine = await _text(page, 'tr[data-service="reporting"] td.backlog')
                down = await _text(page, 'tr[data-service="intake"] td.backlog')
                return (mine, down) if mine and down else None

            mine, down = await eventually(outboxes, within=30)
            assert float(mine) >= 0 and down.startswith("unreachable")

            content = await page.content()
            assert str(tenant) not in content  # counts and names, never an organisation or a case
            await page.screenshot(path=str(artifacts_dir / "stream-page.png"), full_page=True)
        finally:
            await browser.close()


async def test_only_an_operator_gets_the_figures(reporting_url: str, issuer: LocalIssuer) -> None:
    tenant = uuid.uuid4()
    caseworker = issuer.token(Principal(key_id="cw", organisation_id=tenant, role=Role.CASEWORKER))
    operator = issuer.token(Principal(key_id="op", organisation_id=tenant, role=Role.OPERATOR))
    async with httpx.AsyncClient(base_url=reporting_url, timeout=10) as client:
        assert (await client.get("/stream/events")).status_code == 401
        refused = await client.post("/stream/session", headers={"Authorization": f"Bearer {caseworker}"})
        assert refused.status_code == 403 and "cookie" not in {k.lower() for k in refused.headers}
        assert (
            await client.post("/stream/session", headers={"Authorization": "Bearer nope"})
        ).status_code == 401
        opened = await client.post("/stream/session", headers={"Authorization": f"Bearer {operator}"})
        assert opened.status_code == 204
        cookie = opened.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/stream" in cookie
        client.cookies.set("refuge_stream_token", caseworker)
        assert (await client.get("/stream/events")).status_code == 403
        page = await client.get("/stream")
        assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]


async def test_lag_of_the_platforms_groups_is_exported_for_prometheus(
    reporting_url: str, producer: EventProducer, kafka_bootstrap_servers: str
) -> None:
    await _publish_cases(producer, uuid.uuid4(), 3)
    platform_group = "refuge.streamtest.lag"  # named as the services name theirs
    await _lagging_group(kafka_bootstrap_servers, platform_group)
    await _lagging_group(kafka_bootstrap_servers, f"crm-export-{uuid.uuid4()}")  # an integrator's

    async def exported() -> list[str] | None:
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"{reporting_url}/metrics")).text
        lines = [line for line in text.splitlines() if line.startswith("refuge_consumer_lag{")]
        mine = [line for line in lines if f'group="{platform_group}",topic="{topics.CASES}"' in line]
        return lines if mine and float(mine[0].rsplit(" ", 1)[1]) >= 3 else None

    lines = await eventually(exported, within=30)
    assert all('group="refuge.' in line for line in lines)  # never a group named at will
