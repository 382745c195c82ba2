"""``refuge reporting rebuild``: rebuild reporting's projections from the beginning of the topics.

It asks the reporting service (``POST /operator/rebuild``, an operator's token) and follows
its progress (``GET /operator/rebuild``): events read out of the topics' end offsets, until
the new generation is swapped in. Reporting keeps answering from the current one meanwhile.
"""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import httpx
import typer

app = typer.Typer(help="Reporting's projections: rebuild them from the event stream.", no_args_is_help=True)

UrlOption = Annotated[str, typer.Option("--url", envvar="REFUGE_REPORTING_URL", help="Reporting's base URL.")]
TokenOption = Annotated[
    str,
    typer.Option(
        "--token",
        envvar="REFUGE_OPERATOR_TOKEN",
        help="An operator's access token (from intake's POST /oauth/token).",
    ),
]


class ReportingApi:
    def __init__(self, url: str, token: str) -> None:
        self._client = httpx.Client(
            base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def start(self) -> dict[str, Any]:
        return self._answer(self._client.post("/operator/rebuild"))

    def status(self) -> dict[str, Any]:
        return self._answer(self._client.get("/operator/rebuild"))

    def close(self) -> None:
        self._client.close()

    @staticmethod
    def _answer(response: httpx.Response) -> dict[str, Any]:
        if response.is_error:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ApiError(f"reporting answered {response.status_code}: {detail}")
        found: dict[str, Any] = response.json()
        return found


class ApiError(Exception):
    pass


@app.command()
def rebuild(
    url: UrlOption = "http://127.0.0.1:8004",
    token: TokenOption = "",
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="follow it until it is swapped in")] = True,
    poll: Annotated[float, typer.Option(help="seconds between progress reads", min=0.1)] = 1.0,
) -> None:
    """Build every projection again from offset 0 into a new generation, then swap it in."""

    if not token:
        raise typer.BadParameter("give an operator's token (--token or REFUGE_OPERATOR_TOKEN)")
    api = ReportingApi(url, token)
    try:
        status = api.start()
        typer.echo(f"rebuilding generation {status['generation']}")
        if wait:
            status = _follow(api, poll)
    except ApiError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    except httpx.HTTPError as error:
        typer.echo(f"cannot reach reporting at {url} ({type(error).__name__})", err=True)
        raise typer.Exit(2) from None
    finally:
        api.close()
    typer.echo(_summary(status))
    if status["state"] == "failed":
        raise typer.Exit(1)


def _follow(api: ReportingApi, poll: float) -> dict[str, Any]:
    status = api.status()
    with typer.progressbar(length=max(1, status["events_total"]), label="rebuilding", file=sys.stderr) as bar:
        shown = 0
        while True:
            bar.length = max(bar.length or 1, status["events_total"], status["events_done"])
            bar.update(status["events_done"] - shown)
            shown = status["events_done"]
            if status["state"] != "building":
                return status
            time.sleep(poll)
            status = api.status()


def _summary(status: dict[str, Any]) -> str:
    if status["state"] == "failed":
        return f"generation {status['generation']} failed: {status['error']}"
    if status["state"] == "building":
        return (
            f"generation {status['generation']}: {status['events_done']:,} of "
            f"{status['events_total']:,} events so far; follow with GET /operator/rebuild"
        )
    rate = status.get("events_per_second")
    speed = f" ({rate:,.0f} events/s)" if rate else ""
    return f"generation {status['generation']} swapped in: {status['events_done']:,} events{speed}"
