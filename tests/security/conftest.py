"""Fixtures of the security tests."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `tests.models:NAME` callables must import however pytest was started
    sys.path.insert(0, str(ROOT))
