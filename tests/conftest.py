"""Settings for the whole suite: Qt runs headless, whoever starts pytest."""

from __future__ import annotations

import os

# Before any test imports PySide6: no display is needed, and none is touched.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
