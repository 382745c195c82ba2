"""Reporting's integration tests on the real broker and PostgreSQL."""

from __future__ import annotations

import sys
from pathlib import Path

# --import-mode=importlib puts no test directory on sys.path (as in figures/conftest.py):
# the replica and rebuild-worker tests import replicas_support.py from here.
sys.path.insert(0, str(Path(__file__).parent))
