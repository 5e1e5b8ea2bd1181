"""``python -m inspector``: same as the ``model-inspector`` console script."""

from inspector.cli import main

raise SystemExit(main())
