"""The Qt face of Model Inspector: widgets over the headless core."""

from inspector.gui import _refcount_guard

# Before any widget exists: PySide6 6.12.0 on Python < 3.12 would otherwise
# abort the app after enough Qt calls (see _refcount_guard).
_refcount_guard.install()
