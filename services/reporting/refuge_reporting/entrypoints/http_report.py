"""The annual activity report page (French or English) and its CSV."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from babel.numbers import format_decimal, format_percent
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from refuge_common.auth.principal import Principal
from refuge_reporting.domain.annual_report import AnnualReport
from refuge_reporting.domain.charts import polyline
from refuge_reporting.domain.measures import InvalidQuery
from refuge_reporting.domain.report_labels import TEXT
from refuge_reporting.service_layer.annual_report import annual_report, report_csv
from refuge_reporting.service_layer.figures import NotFound

Language = Annotated[str, Query(pattern="^(fr|en)$", description="fr or en")]


def _environment(language: str) -> Environment:
    environment = Environment(
        loader=PackageLoader("refuge_reporting", "templates"), autoescape=select_autoescape()
    )
    environment.filters["number"] = lambda v: "—" if v is None else format_decimal(v, locale=language)
    environment.filters["percent"] = lambda v: (
        "—" if v is None else format_percent(v, format="#,##0.0 %", locale=language)
    )
    environment.filters["signed"] = lambda v: (
        "" if v is None else format_percent(v, format="+#,##0.0 %;-#,##0.0 %", locale=language)
    )
    environment.globals["polyline"] = polyline
    return environment


ENVIRONMENTS = {language: _environment(language) for language in TEXT}


def report_router(readers: Callable[..., Awaitable[Principal]], threshold: int) -> APIRouter:
    router = APIRouter(prefix="/reports", tags=["reports"])

    async def build(request: Request, principal: Principal, year: int, lang: str) -> AnnualReport:
        if not 2000 <= year <= 2100:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "year: between 2000 and 2100")
        try:
            return await annual_report(
                request.app.state.runtime.pool, principal, year, lang, threshold=threshold
            )
        except InvalidQuery as error:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
        except NotFound as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error

    # The CSV route first: /annual/{year} would otherwise take /annual/2026.csv and refuse it.
    @router.get("/annual/{year}.csv", summary="The annual activity report's figures as CSV")
    async def figures_csv(
        request: Request, year: int, principal: Principal = Depends(readers), lang: Language = "fr"
    ) -> Response:
        found = await build(request, principal, year, lang)
        return Response(
            report_csv(found),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="activity-{year}.csv"'},
        )

    @router.get("/annual/{year}", response_class=HTMLResponse, summary="The annual activity report")
    async def page(
        request: Request, year: int, principal: Principal = Depends(readers), lang: Language = "fr"
    ) -> str:
        found = await build(request, principal, year, lang)
        text = TEXT[lang]
        previous = str(year - 1)
        return (
            ENVIRONMENTS[lang]
            .get_template("annual_report.html")
            .render(
                r=found,
                t=text,
                lang=lang,
                previous=previous,
                legend_current=text["legend_current"].format(year=year),
                legend_previous=text["legend_previous"].format(previous=previous),
                csv_url=f"{year}.csv?lang={lang}",
            )
        )

    return router
