"""``refuge-deadlines``: serve, migrate, compute deadlines from a decision, list the rules."""

from __future__ import annotations

import json
import sys

import typer
from cloudevents.core.formats.json import JSONFormat
from pydantic import ValidationError

from refuge_common.contract.cases import CaseDecisionNotified
from refuge_common.service_main import service_cli
from refuge_deadlines.domain.engine import Decision, InvalidDecision, UnknownJurisdiction, compute_deadlines
from refuge_deadlines.domain.packs import load_pack
from refuge_deadlines.domain.rules import Trigger
from refuge_deadlines.schema import SCHEMA
from refuge_deadlines.settings import DeadlinesSettings

app = service_cli(
    "deadlines", DeadlinesSettings, SCHEMA, "refuge_deadlines.bootstrap:build_app", "deadlines_port"
)
PACKS = ("fr", "us")


def _fail(message: str) -> None:
    typer.echo(f"refuge-deadlines compute: {message}", err=True)
    raise typer.Exit(2)


@app.command("compute")
def compute() -> None:
    """Read one case.decision_notified CloudEvent (structured JSON) on stdin; print its deadlines."""

    raw = sys.stdin.buffer.read()
    try:
        event = JSONFormat().read(None, raw)
    except Exception as error:  # the SDK raises several unrelated types for bad input
        _fail(f"not a CloudEvent in structured JSON: {error}")
    if event.get_type() != CaseDecisionNotified.TYPE:
        _fail(f"type is {event.get_type()!r}, expected {CaseDecisionNotified.TYPE!r}")
    try:
        data = CaseDecisionNotified.model_validate(event.get_data())
        deadlines = compute_deadlines(
            Decision(
                jurisdiction=data.jurisdiction,
                decision=data.decision.value,
                regime=data.regime.value if data.regime else None,
                notified_at=data.notified_at,
                timezone=data.timezone,
            )
        )
    except ValidationError as error:
        fields = "; ".join(
            f"data.{'.'.join(map(str, e['loc']))}: {e['msg']}"
            for e in error.errors(include_input=False, include_url=False)
        )
        _fail(fields)
    except (UnknownJurisdiction, InvalidDecision) as error:
        _fail(f"data.{error}")
    typer.echo(
        json.dumps(
            {
                "deadlines": [
                    {
                        "purpose": d.purpose,
                        "rule": d.rule,
                        "legal_basis": d.legal_basis,
                        "due": d.due.isoformat(),
                        "timezone": d.timezone,
                        "alternative": d.alternative,
                    }
                    for d in deadlines
                ]
            },
            ensure_ascii=False,
            indent=2,
        )
    )


@app.command("rules")
def rules() -> None:
    """List the rule packs: jurisdiction, rule, trigger, delay, counting, purpose."""

    header = ("pack", "rule", "trigger", "delay", "counting", "purpose")
    rows = [header]
    for name in PACKS:
        pack = load_pack(name)
        for rule in pack.rules:
            trigger = _describe(rule.trigger)
            rows.append(
                (
                    pack.jurisdiction,
                    rule.id,
                    trigger,
                    f"{rule.duration.amount} {rule.duration.unit}",
                    rule.counting,
                    rule.purpose,
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for index, row in enumerate(rows):
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            typer.echo("  ".join("-" * width for width in widths))


def _describe(trigger: Trigger) -> str:
    """``oqtf (ordinary)``, ``detention_started (administrative)``, ``permit_recorded``."""

    what = trigger.decision or trigger.event.removeprefix("case.")
    kinds = trigger.regimes or trigger.detention
    return what + (f" ({', '.join(sorted(kinds))})" if kinds else "")


def main() -> None:
    app()
