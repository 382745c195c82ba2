"""``make bench``: run every benchmark, print one table, write bench/results/latest.json.

.venv/bin/python -m bench                       # everything, full size (~15 minutes, reminders ~9)
.venv/bin/python -m bench consumer_apply        # some of them
.venv/bin/python -m bench --scale 0.1           # smaller N, for a quick look
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Row, cpu_yardstick, machine_facts

BENCHMARKS = (
    "outbox_relay",
    "consumer_apply",
    "skeleton_latency",
    "intake_write",
    "reminders",
    "reporting_rebuild",
    "notifications_send",
)
RESULTS = Path(__file__).parent / "results"


def _format(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def table(rows: list[Row]) -> str:
    cells = [("benchmark", "metric", "value", "unit", "note")]
    cells += [(r.benchmark, r.metric, _format(r.value), r.unit, r.note) for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(4)]
    lines = []
    for number, line in enumerate(cells):
        lines.append(
            f"{line[0]:<{widths[0]}}  {line[1]:<{widths[1]}}  {line[2]:>{widths[2]}}  "
            f"{line[3]:<{widths[3]}}  {line[4]}".rstrip()
        )
        if number == 0:
            lines.append("-" * (sum(widths) + 6 + max(len(c[4]) for c in cells)))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("benchmarks", nargs="*", metavar="BENCHMARK", help=f"of {BENCHMARKS}; default all")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every N (default 1)")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    chosen = args.benchmarks or list(BENCHMARKS)
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; choose from {BENCHMARKS}")

    facts = machine_facts()
    facts["CPU yardstick at start"] = f"{cpu_yardstick():.1f} M Python loop steps/s (one core)"
    print("\n".join(f"{name:>32}: {value}" for name, value in facts.items()), flush=True)

    rows: list[Row] = []
    durations: dict[str, float] = {}
    failed: dict[str, str] = {}
    for name in chosen:
        print(f"\n== {name} ...", flush=True)
        started = time.perf_counter()
        try:
            produced = importlib.import_module(f"bench.{name}").run(args.scale)
        except Exception as error:
            traceback.print_exc()
            failed[name] = f"{type(error).__name__}: {error}"
            produced = []
        durations[name] = round(time.perf_counter() - started, 1)
        rows += produced
        print(table(produced) if produced else f"{name} FAILED", flush=True)

    facts["CPU yardstick at end"] = f"{cpu_yardstick():.1f} M Python loop steps/s (one core)"
    facts["load average at end (1/5 min)"] = "{:.2f} / {:.2f}".format(*os.getloadavg()[:2])
    print(f"\n== results (scale {args.scale}; wall-clock seconds per benchmark: {durations})")
    print("\n".join(f"{name:>32}: {value}" for name, value in facts.items()), end="\n\n")
    print(table(rows))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": facts,
                "scale": args.scale,
                "seconds": durations,
                "failed": failed,
                "results": [row.as_dict() for row in rows],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwritten to {args.output}")
    for name, reason in failed.items():
        print(f"FAILED {name}: {reason}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
