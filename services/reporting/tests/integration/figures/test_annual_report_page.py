"""The annual activity report in headless Chromium: its figures are the scripted year's."""

from __future__ import annotations

import asyncio
import csv
import io
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.async_api import async_playwright
from reporting_year import Reporting, Year

from refuge_common.auth.principal import Role
from refuge_devstack.ports import free_port
from refuge_devstack.testing import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def served(reporting: Reporting) -> AsyncIterator[str]:
    """The same running app, also on a real port for the browser (its lifespan is already up)."""

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(reporting.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())

    async def started() -> bool:
        return bool(server.started)

    await eventually(started, within=30)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


def expected_persons(year: Year, when: int) -> int:
    return len({c.person_key for c in year.a.cases for at, _o in c.activity if at.year == when})


async def test_the_report_page_shows_the_years_figures_in_both_languages(
    reporting: Reporting, year: Year, served: str, chromium_executable: str, artifacts_dir: Path
) -> None:
    headers = reporting.token(year.a, Role.COORDINATOR)
    contacts_2026 = [c for c in year.a.contacts if c[0].year == 2026]
    remote = sum(1 for c in contacts_2026 if c[3] == "resolved_remotely") / len(contacts_2026)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_executable)
        try:
            context = await browser.new_context(
                extra_http_headers=headers, viewport={"width": 1000, "height": 900}
            )
            page = await context.new_page()
            response = await page.goto(f"{served}/reports/annual/2026?lang=fr")
            assert response is not None and response.status == 200
            assert await page.locator("h1").inner_text() == "Rapport d'activité 2026"

            async def figure(key: str) -> str:
                return await page.locator(f'[data-figure="{key}"] .value').get_attribute("data-value") or ""

            assert int(await figure("persons")) == expected_persons(year, 2026)
            assert int(await figure("cases_opened")) == sum(
                1 for c in year.a.cases if c.opened_at.year == 2026
            )
            assert float(await figure("remote_share")) == pytest.approx(remote)
            for index, office in enumerate(year.a.offices):
                row = page.locator(f'[data-table="by_office"] tr[data-key="{office}"]')
                assert await row.locator("th").inner_text() == f"Office {index}"
                opened = sum(1 for c in year.a.cases if c.office == office and c.opened_at.year == 2026)
                assert int(await row.locator("td").first.get_attribute("data-value") or -1) == opened
            assert await page.locator("svg").count() == 2
            assert await page.locator("svg rect[fill='url(#hatch)']").count() >= 2  # hatched: last year
            # the monthly line reads against a labelled y-axis of round ticks from 0, without colour
            ticks = [
                int(v or -1)
                for v in await page.locator("svg .y-axis .y-tick").evaluate_all(
                    "nodes => nodes.map(n => n.getAttribute('data-value'))"
                )
            ]
            monthly = Counter(
                (c.opened_at.year, c.opened_at.month) for c in year.a.cases if c.opened_at.year >= 2025
            )
            assert ticks[0] == 0 and ticks == sorted(set(ticks)) and len(ticks) >= 2
            assert ticks[-1] >= max(monthly.values())
            assert await page.locator("svg .y-axis .y-title").text_content() == "Dossiers ouverts"
            await page.screenshot(path=str(artifacts_dir / "annual-report-fr.png"), full_page=True)
            await page.emulate_media(media="print")
            assert await page.locator(".actions").is_hidden()

            await page.goto(f"{served}/reports/annual/2026?lang=en")
            assert await page.locator("h1").inner_text() == "Activity report 2026"
            assert "People accompanied" in await page.locator('[data-figure="persons"]').inner_text()
            await page.screenshot(path=str(artifacts_dir / "annual-report-en.png"), full_page=True)
        finally:
            await browser.close()


async def test_the_report_csv_has_the_same_figures(reporting: Reporting, year: Year, served: str) -> None:
    headers = reporting.token(year.a, Role.COORDINATOR)
    async with httpx.AsyncClient(base_url=served) as client:
        response = await client.get("/reports/annual/2026.csv", headers=headers, params={"lang": "en"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(response.text)))
    persons = next(line for line in lines if line["section"] == "headline" and line["label"] == "persons")
    assert int(persons["value"]) == expected_persons(year, 2026)
    assert int(persons["previous_year"]) == expected_persons(year, 2025)


async def test_a_coordinator_opens_the_report_in_a_browser_with_a_token_once(
    reporting: Reporting, year: Year, served: str, chromium_executable: str
) -> None:
    token = reporting.token(year.a, Role.COORDINATOR)["Authorization"].removeprefix("Bearer ")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_executable)
        try:
            context = await browser.new_context()  # no header: what a person's browser has
            page = await context.new_page()
            refused = await page.goto(f"{served}/reports/annual/2026")
            assert refused is not None and refused.status == 401

            await page.goto(f"{served}/reports")
            await page.fill("#token", "not-a-token")
            await page.click("button[type=submit]")
            await page.wait_for_function("document.getElementById('status').textContent.length > 0")
            assert "invalid token" in await page.locator("#status").inner_text()

            await page.fill("#token", token)
            await page.fill("#year", "2026")
            await page.select_option("#lang", "en")
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{served}/reports/annual/2026?lang=en")
            assert await page.locator("h1").inner_text() == "Activity report 2026"
            assert token not in page.url
            (cookie,) = [c for c in await context.cookies() if c["name"] == "refuge_report_token"]
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/reports"
        finally:
            await browser.close()
