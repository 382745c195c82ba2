"""``refuge``: topics, consumer lag, decoded events and dead letters, never personal data."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer

from refuge_ops.domain.offsets import group_lines, topics_table
from refuge_ops.domain.records import EventFilter, EventView, event_line
from refuge_ops.entrypoints import dlq, reporting
from refuge_ops.entrypoints.common import DEFAULT_BOOTSTRAP, with_broker
from refuge_ops.service_layer import streams

app = typer.Typer(
    help="Refuge for operators: topics, consumer groups and lag, events (their shape, never their "
    "values) and dead letters. See docs/runbook.md.",
    no_args_is_help=True,
)
app.add_typer(dlq.app, name="dlq")
app.add_typer(reporting.app, name="reporting")

EXACT_HELP = (
    "--exact (default) reads the last batch of each partition for its high watermark, because the "
    "embedded Tansu broker answers ListOffsets with the start of the last batch + 1; --fast trusts "
    "ListOffsets (right on Apache Kafka)."
)

GROUPS_NOTE = (
    "partitions shown are those the group committed an offset on (asked partition by partition: the "
    "Tansu broker cannot answer OffsetFetch for all of a group's partitions); members' assignments are "
    "not shown (Tansu returns them empty)"
)


@app.callback()
def _options(
    ctx: typer.Context,
    bootstrap: Annotated[
        str,
        typer.Option("--bootstrap", envvar="KAFKA_BOOTSTRAP_SERVERS", help="Kafka bootstrap servers."),
    ] = DEFAULT_BOOTSTRAP,
) -> None:
    ctx.obj = bootstrap


@app.command()
def topics(
    ctx: typer.Context,
    exact: Annotated[bool, typer.Option("--exact/--fast", help=EXACT_HELP)] = True,
) -> None:
    """Every topic with its partitions, first offset and end offset."""

    offsets = with_broker(ctx, lambda broker: streams.topic_offsets(broker, exact=exact))
    for line in topics_table(offsets):
        typer.echo(line)


@app.command()
def groups(
    ctx: typer.Context,
    group: Annotated[str | None, typer.Argument(help="one consumer group; all of them if omitted")] = None,
    exact: Annotated[bool, typer.Option("--exact/--fast", help=EXACT_HELP)] = True,
) -> None:
    """Consumer groups: per partition, the committed offset, the end offset and the lag."""

    views = with_broker(ctx, lambda broker: streams.group_views(broker, group, exact=exact))
    if not views:
        typer.echo("no consumer groups")
    for view in views:
        for line in group_lines(view):
            typer.echo(line)
    typer.echo(GROUPS_NOTE, err=True)
    if group is not None and not views[0].known and not views[0].partitions:
        typer.echo(f"no consumer group {group}", err=True)
        raise typer.Exit(1)


@app.command()
def tail(
    ctx: typer.Context,
    topic: Annotated[
        str, typer.Argument(help="a topic; contract topics may be named short (cases, persons...)")
    ],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="then print new events until Ctrl-C")
    ] = False,
    type_: Annotated[
        str | None,
        typer.Option(
            "--type", help="only this event type (org.refuge.case.opened.v1, or case.opened: any version)"
        ),
    ] = None,
    tenant: Annotated[UUID | None, typer.Option(help="only this tenant (organisation id)")] = None,
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="start at the first record (the first --limit events)")
    ] = False,
    limit: Annotated[int, typer.Option(help="how many events already there to show (0: all)", min=0)] = 20,
) -> None:
    """Decoded CloudEvents, one a line: time, type, subject, tenant, partition@offset, and the
    data as its shape (field names and JSON types; sealed personal data shows as "sealed").

    Values are never shown. A record that is not a valid event, or of a type this build does
    not know, is shown as such without its bytes. Shows the last --limit matching events
    (searched among the last 10,000 records of each partition when filtering), or with
    --from-beginning the first ones; --follow then prints new events until Ctrl-C.
    """

    request = streams.TailRequest(
        topic=streams.resolve_topic(topic),
        filter=EventFilter(type=type_, tenant=tenant),
        limit=limit,
        from_beginning=from_beginning,
        follow=follow,
    )

    def emit(view: EventView) -> None:
        typer.echo(event_line(view))

    try:
        shown = with_broker(ctx, lambda broker: streams.tail(broker, request, emit))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
    if shown == 0:
        typer.echo(f"no matching events on {request.topic}", err=True)


def main() -> None:
    app()
