"""The stream page's dead-letter window: the same count and newest list as keeping every
dead letter would give, in memory bounded by the window's seconds and ``keep``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from refuge_reporting.stream.figures import DeadLetterFigure
from refuge_reporting.stream.recent_dead_letters import RecentDeadLetters

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=10)


def figure(n: int) -> DeadLetterFigure:
    return DeadLetterFigure(f"t{n}", "refuge.notifications.cases", "refuge.cases.v1", "x", f"reason {n}")


def every_one_kept(arrivals: list[datetime], now: datetime, keep: int) -> tuple[int, list[DeadLetterFigure]]:
    """What the page showed when it kept every dead letter (the code before), but counted by
    the second: the dead letters of the second the window starts in count whole."""

    first_second = int((now - WINDOW).timestamp())
    counted = sum(1 for at in arrivals if int(at.timestamp()) >= first_second)
    seen = [(at, figure(n)) for n, at in enumerate(arrivals) if at >= now - WINDOW]
    newest = sorted(seen, key=lambda item: item[0], reverse=True)[:keep]
    return counted, [f for _, f in newest]


@settings(max_examples=300, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=660_000), max_size=80),
    refresh_after=st.lists(st.integers(min_value=0, max_value=80), max_size=4),
    keep=st.integers(min_value=1, max_value=6),
)
def test_the_same_count_and_newest_as_keeping_every_one(
    offsets: list[int], refresh_after: list[int], keep: int
) -> None:
    # Arrival times in milliseconds, out of order as partitions are read one after another;
    # the page refreshes (prunes) now and then, at the latest time seen so far.
    arrivals = [START + timedelta(milliseconds=ms) for ms in offsets]
    recent = RecentDeadLetters(WINDOW, keep)
    for n, at in enumerate(arrivals):
        recent.add(at, figure(n))
        if n in refresh_after:
            recent.prune(max(arrivals[: n + 1]))
    now = max(arrivals, default=START) + timedelta(seconds=1)
    recent.prune(now)
    # Pruned earlier at a time no later than ``now``: only what ``now`` prunes anyway is gone.
    assert (recent.count, recent.newest()) == every_one_kept(arrivals, now, keep)


def test_a_storm_of_dead_letters_keeps_memory_bounded() -> None:
    recent = RecentDeadLetters(WINDOW, keep=20)
    for n in range(120_000):  # 50 a second for 40 minutes
        at = START + timedelta(milliseconds=20 * n)
        recent.add(at, figure(n))
        if n % 5_000 == 0:
            recent.prune(at)
    now = START + timedelta(milliseconds=20 * 119_999)
    recent.prune(now)
    assert recent.buckets <= WINDOW.total_seconds() + 1
    assert len(recent.newest()) == 20 and recent.newest()[0] == figure(119_999)
    # The window starts 1,799.98 s in: its first second counted whole, 600.98 s at 50 a second.
    assert recent.count == 30_050
