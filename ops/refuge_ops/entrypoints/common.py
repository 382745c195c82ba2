"""What every command shares: the broker address and running async work against it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from aiokafka.errors import KafkaError

from refuge_ops.adapters.broker import BrokerUnavailable, KafkaGateway, TopicNotFound

T = TypeVar("T")
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"


def bootstrap_of(ctx: typer.Context) -> str:
    root = ctx.find_root()
    return str(root.obj or DEFAULT_BOOTSTRAP)


def with_broker(ctx: typer.Context, work: Callable[[KafkaGateway], Awaitable[T]]) -> T:
    """Run ``work`` with a connected gateway; broker trouble becomes a message and an exit code."""

    bootstrap = bootstrap_of(ctx)

    async def connected() -> T:
        async with KafkaGateway(bootstrap) as broker:
            return await work(broker)

    try:
        return asyncio.run(connected())
    except BrokerUnavailable as error:
        typer.echo(f"cannot reach the broker at {bootstrap} ({error})", err=True)
        raise typer.Exit(2) from None
    except TopicNotFound as error:
        typer.echo(f"no topic {error} on {bootstrap}", err=True)
        raise typer.Exit(1) from None
    except KafkaError as error:
        typer.echo(f"the broker at {bootstrap} failed the request: {type(error).__name__}", err=True)
        raise typer.Exit(2) from None
