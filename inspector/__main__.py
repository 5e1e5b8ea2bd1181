"""``python -m inspector``: same as the ``model-inspector`` console script."""

import os
import sys

# `python -m` puts the current folder first on sys.path, so `report mod:fn`
# would import a mod.py that merely lies there (a cloned repository, a
# download folder). The console script has no such entry, and neither has
# this: a person who wants the current folder names it (`./mod.py:fn`, or
# PYTHONPATH=.).
# sys.flags.safe_path (-P, PYTHONSAFEPATH) is new in Python 3.11.
if sys.path and not getattr(sys.flags, "safe_path", False) and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from inspector.cli import main  # after the sys.path fix above

raise SystemExit(main())
