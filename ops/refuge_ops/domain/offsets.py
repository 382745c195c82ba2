"""Partitions, end offsets, committed offsets and lag, and the tables that show them."""

from __future__ import annotations

from collections.abc import Sequence

# The offsets and lag themselves are shared with reporting's stream page.
from refuge_common.observability.stream_offsets import GroupPartition, GroupView, PartitionOffsets

__all__ = ["GroupPartition", "GroupView", "PartitionOffsets", "group_lines", "table", "topics_table"]


def table(header: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "") -> list[str]:
    """Left-aligned columns, two spaces apart; numbers right-aligned."""

    cells = [list(header)] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = [all(isinstance(row[i], int) for row in rows) and bool(rows) for i in range(len(header))]
    lines = []
    for row in cells:
        parts = [
            cell.rjust(width) if numeric[i] else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append(indent + "  ".join(parts).rstrip())
    return lines


def topics_table(partitions: Sequence[PartitionOffsets]) -> list[str]:
    rows = [
        (p.topic, p.partition, p.begin, p.end, "*" if p.undercounted else "")
        for p in sorted(partitions, key=lambda p: (p.topic, p.partition))
    ]
    lines = table(("TOPIC", "PARTITION", "BEGIN", "END", ""), rows)
    if any(p.undercounted for p in partitions):
        lines.append(
            "* the broker's ListOffsets answer was lower; END is the high watermark of a fetch "
            "of the last batch (see docs/runbook.md)"
        )
    return lines


def group_lines(view: GroupView) -> list[str]:
    members = "?" if view.members is None else str(view.members)
    if not view.known:
        head = f"group {view.group}  (not listed by the broker)"
    else:
        head = f"group {view.group}  state={view.state or '?'}  members={members}  lag={view.total_lag}"
    if not view.partitions:
        return [head, "  no committed offsets"]
    rows = [
        (p.topic, p.partition, p.committed, p.end, p.lag)
        for p in sorted(view.partitions, key=lambda p: (p.topic, p.partition))
    ]
    return [head, *table(("TOPIC", "PARTITION", "COMMITTED", "END", "LAG"), rows, indent="  ")]
