"""--import-mode=importlib puts no test directory on sys.path; the shared helpers live here."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
