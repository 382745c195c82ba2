"""A rebuild's progress as ``GET /operator/rebuild`` answers it: this replica's own, or the
newest generation's as the database tells it when another replica is building."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from refuge_reporting.adapters.fact_store import GenerationProgress
from refuge_reporting.service_layer.projector import Projector
from refuge_reporting.service_layer.rebuild_processes import ProjectorProcesses


@dataclass
class Rebuild:
    projector: Projector | ProjectorProcesses
    task: asyncio.Task[None] | None = None
    state: str = "building"  # building, swapped, failed
    error: str | None = None
    finished_at: datetime | None = None

    def status(self) -> dict[str, Any]:
        progress = self.projector.progress
        return {
            "generation": progress.generation,
            "state": self.state,
            "events_done": progress.events_done,
            "events_total": progress.events_total,
            "events_applied": progress.events_applied,
            "events_per_second": progress.rate,
            "seconds": {name: round(value, 3) for name, value in progress.seconds.items()},
            "started_at": progress.started_at,
            "caught_up_at": progress.caught_up_at,
            "finished_at": self.finished_at,
            "error": self.error,
            "replica": "this",
            # worker processes it is spread over; 0: in the service's own process
            "processes": self.projector.processes if isinstance(self.projector, ProjectorProcesses) else 0,
        }


def status_from_database(newest: GenerationProgress, *, rebuilding: bool) -> dict[str, Any]:
    """The newest generation's progress, built by another replica (``rebuilding``: the
    rebuild lock is held now)."""

    error = None
    if newest.state != "building":
        state = "swapped"
    elif rebuilding:
        state = "building"
    else:
        state, error = "failed", "the replica that was building it stopped"
    return {
        "generation": newest.number,
        "state": state,
        "events_done": newest.events_done,
        "events_total": max(newest.events_total or 0, newest.events_done),
        "events_applied": None,
        "events_per_second": None,
        "seconds": {},
        "started_at": newest.created_at,
        "caught_up_at": None,
        "finished_at": newest.swapped_at,
        "error": error,
        "replica": "another",
        "processes": None,
    }
