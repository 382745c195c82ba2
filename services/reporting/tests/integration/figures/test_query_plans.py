"""Figures are planned generically: no slow custom plans on a connection's first runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from reporting_year import Reporting, Year

from refuge_common.db.pool import tenant_transaction
from refuge_reporting.adapters import figures
from refuge_reporting.domain.measures import Measure, Period

pytestmark = pytest.mark.integration


async def test_a_figure_query_uses_the_generic_plan_in_its_transaction_only(
    reporting: Reporting, year: Year
) -> None:
    pool = reporting.app.state.runtime.pool
    period = Period(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    async with tenant_transaction(pool, year.a.tenant) as connection:
        generation = await figures.current_generation(connection)
        found = await figures.counts(connection, generation, Measure.CONTACTS, ("channel",), period, None)
        assert found  # the year has contacts
        assert await connection.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
    async with pool.acquire() as connection:
        assert await connection.fetchval("SHOW plan_cache_mode") == "auto"  # the pool's default
