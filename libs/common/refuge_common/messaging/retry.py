"""Bounded retry with exponential backoff and full jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    initial_delay: float = 0.2
    max_delay: float = 10.0

    def delay(self, failed_attempts: int) -> float:
        """Seconds to wait after ``failed_attempts`` failures (1-based)."""

        ceiling = min(self.max_delay, self.initial_delay * 2 ** (failed_attempts - 1))
        # Full jitter keeps a restarted fleet from retrying in lock-step.
        return random.uniform(ceiling / 2, ceiling)


class PermanentError(Exception):
    """An event that can never be applied as it is; retrying is pointless."""
