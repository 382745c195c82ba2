"""The outbox backlog of each service, read from its Prometheus ``/metrics``."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families

from refuge_reporting.stream.figures import OutboxFigure

BACKLOG = "refuge_outbox_backlog"
OLDEST_AGE = "refuge_outbox_oldest_age_seconds"
SCRAPE_TIMEOUT_SECONDS = 2.0


async def scrape_outboxes(client: httpx.AsyncClient, urls: Mapping[str, str]) -> list[OutboxFigure]:
    """One figure per service, in the order of ``urls``; one that cannot be read says why."""

    return list(await asyncio.gather(*(_scrape(client, name, url) for name, url in urls.items())))


async def _scrape(client: httpx.AsyncClient, service: str, url: str) -> OutboxFigure:
    try:
        response = await client.get(url, timeout=SCRAPE_TIMEOUT_SECONDS)
        response.raise_for_status()
        values = {
            sample.name: sample.value
            for family in text_string_to_metric_families(response.text)
            if family.name in (BACKLOG, OLDEST_AGE)
            for sample in family.samples
        }
    except (httpx.HTTPError, ValueError) as error:
        # The kind of failure only: a message could quote a URL with credentials in it.
        return OutboxFigure(service, None, None, error=type(error).__name__)
    return OutboxFigure(service, values.get(BACKLOG), values.get(OLDEST_AGE))
