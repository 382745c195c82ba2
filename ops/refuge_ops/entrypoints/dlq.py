"""``refuge dlq``: dead letters on refuge.deadletter.v1, listed, shown and replayed."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated

import typer

from refuge_ops.adapters.broker import KafkaGateway
from refuge_ops.domain.deadletters import (
    DLQ_TOPIC,
    DeadLetterFilter,
    DeadLetterView,
    Position,
    letter_details,
    letter_line,
    parse_since,
)
from refuge_ops.entrypoints.common import with_broker
from refuge_ops.service_layer import deadletters as service

app = typer.Typer(help=f"Dead letters on {DLQ_TOPIC}: list, show, replay.", no_args_is_help=True)

TopicOption = Annotated[str | None, typer.Option("--topic", help="only dead letters from this origin topic")]
ConsumerOption = Annotated[str | None, typer.Option("--consumer", help="only those of this consumer group")]
TypeOption = Annotated[
    str | None, typer.Option("--type", help="only this event type (full, or short like case.opened)")
]


def _position(text: str) -> Position:
    try:
        return Position.parse(text)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_since(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 date or instant", param_hint="--since"
        ) from None


@app.command("list")
def list_(
    ctx: typer.Context,
    topic: TopicOption = None,
    consumer: ConsumerOption = None,
    type_: TypeOption = None,
    since: Annotated[str | None, typer.Option(help="only those that failed at or after (ISO 8601)")] = None,
) -> None:
    """Dead letters, oldest first: position (partition:offset), when, origin topic, partition
    and offset, consumer, attempts, event type and id, replay status, and the reason (the
    refuge_dlq_error header, which names fields and error types, never values)."""

    selected = DeadLetterFilter(topic=topic, consumer=consumer, type=type_, since=_since(since))
    found = with_broker(ctx, lambda broker: service.dead_letters(broker, selected))
    for letter in found.letters:
        typer.echo(letter_line(letter, found.replays.get(letter.position)))
    replayed = sum(1 for letter in found.letters if letter.position in found.replays)
    typer.echo(f"{len(found.letters)} dead letters, {replayed} replayed", err=True)
    for position in found.unreadable:
        typer.echo(f"{position}: not a Refuge dead letter (unreadable refuge_dlq_* headers)", err=True)


@app.command()
def show(
    ctx: typer.Context,
    position: Annotated[
        str, typer.Argument(help=f"PARTITION:OFFSET on {DLQ_TOPIC}, as `dlq list` prints it")
    ],
) -> None:
    """One dead letter: its headers (values only where they have the contract's shape, such as
    ids and types) and the shape of its data, never its values."""

    where = _position(position)
    try:
        found = with_broker(ctx, lambda broker: service.dead_letter_at(broker, where))
    except ValueError:  # refuge_dlq_* headers that are not numbers
        typer.echo(
            f"{DLQ_TOPIC} {where} is not a Refuge dead letter (unreadable refuge_dlq_* headers)", err=True
        )
        raise typer.Exit(1) from None
    if found is None:
        typer.echo(f"no record at {DLQ_TOPIC} {where}", err=True)
        raise typer.Exit(1)
    for line in letter_details(*found):
        typer.echo(line)


@app.command()
def replay(
    ctx: typer.Context,
    offset: Annotated[
        list[str] | None, typer.Option("--offset", help="PARTITION:OFFSET of a dead letter (repeatable)")
    ] = None,
    type_: TypeOption = None,
    consumer: ConsumerOption = None,
    topic: TopicOption = None,
    all_: Annotated[bool, typer.Option("--all", help="every dead letter")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="say what would be replayed; publish nothing")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
    force: Annotated[bool, typer.Option(help="replay again dead letters that were already replayed")] = False,
) -> None:
    """Republish dead letters to their origin topic: the original key, value and ce_* headers,
    without the refuge_dlq_* headers, with refuge_replayed_from: refuge.deadletter.v1:P:O,
    acknowledged by all in-sync replicas, in dead-letter order.

    Replaying an event that was in fact applied is harmless: consumers are idempotent and
    deduplicate on the event's source + id. A dead letter whose replay is already on its
    origin topic is skipped (unless --force), so a second `replay --all` sends nothing twice.
    Criteria combine: --type X --consumer Y replays the dead letters matching both.
    """

    positions = frozenset(_position(text) for text in offset or [])
    if all_ and (positions or type_ or consumer or topic):
        raise typer.BadParameter("--all replays everything; give it alone", param_hint="--all")
    if not (all_ or positions or type_ or consumer or topic):
        raise typer.BadParameter("say which: --offset P:O, --type T, --consumer C, --topic T or --all")
    selected = DeadLetterFilter(
        topic=topic, consumer=consumer, type=type_, positions=positions if positions else None
    )
    plan = with_broker(ctx, lambda broker: service.plan_replay(broker, selected, force=force))
    for position in plan.missing:
        typer.echo(f"{position}: no such dead letter on {DLQ_TOPIC}", err=True)
    for letter, reason in plan.skipped:
        typer.echo(f"skipped {letter.position}: {reason}")
    if not plan.to_send:
        typer.echo("nothing to replay")
        raise typer.Exit(1 if plan.missing else 0)
    if dry_run:
        for letter in plan.to_send:
            typer.echo(f"would replay {_describe(letter)}")
        typer.echo(f"dry run: {len(plan.to_send)} dead letters would be replayed, nothing was published")
        return
    if not yes:
        typer.confirm(f"Replay {len(plan.to_send)} dead letters to their origin topics?", abort=True)
    count = _replay(ctx, plan)
    typer.echo(f"replayed {count} dead letters")
    if plan.missing:
        raise typer.Exit(1)


def _describe(letter: DeadLetterView) -> str:
    return (
        f"{letter.position} -> {letter.origin_topic} (type={letter.type or '-'} id={letter.event_id or '-'})"
    )


def _replay(ctx: typer.Context, plan: service.ReplayPlan) -> int:
    """Replay with a progress bar; say what was sent even if interrupted or failing midway."""

    done: list[str] = []

    def sent(letter: DeadLetterView, partition: int, offset: int) -> None:
        bar.update(1)
        done.append(f"replayed {_describe(letter)} at p{partition}@{offset}")

    async def work(broker: KafkaGateway) -> int:
        return await service.replay(broker, plan, sent)

    try:
        with typer.progressbar(length=len(plan.to_send), label="replaying", file=sys.stderr) as bar:
            with_broker(ctx, work)
    finally:
        for line in done:
            typer.echo(line)
        if len(done) < len(plan.to_send):
            typer.echo(
                f"stopped after {len(done)} of {len(plan.to_send)}: the same command replays the rest "
                "(those sent are skipped)",
                err=True,
            )
    return len(done)
