"""Can Qt open a window here? Asked before the QApplication exists.

When Qt cannot load its platform plugin (the xcb libraries of a fresh
Debian/Ubuntu machine are missing) or cannot reach a display, it prints
"could not load the Qt platform plugin" and aborts the process (SIGABRT,
exit 134): no Python handler runs. :func:`platform_problem` finds those cases
first, without starting Qt, so the app can exit 2 with one line that says
which packages to install and what the headless ways are.

Only Linux's X11 route (Qt's default there) is checked; Wayland, macOS,
Windows and the headless platforms (offscreen, minimal, vnc) are left to Qt.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from collections.abc import Mapping

# What `apt-get install` needs for Qt 6's xcb plugin on Debian and Ubuntu.
XCB_PACKAGES = (
    "libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 "
    "libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0 libegl1 libgl1"
)
HEADLESS = ("for the report without a window use `model-inspector report MODEL`; "
            "to run the app without a display set QT_QPA_PLATFORM=offscreen")


def _platform_name(env: Mapping[str, str]) -> str:
    """The platform plugin Qt would pick: QT_QPA_PLATFORM's first choice, else Qt's Linux default."""
    chosen = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if chosen:
        return chosen
    if env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE") == "wayland":
        return "wayland"
    return "xcb"


def _plugin_dirs(env: Mapping[str, str]) -> list[str]:
    """Where Qt looks for platform plugins: QT_QPA_PLATFORM_PLUGIN_PATH first, then PySide6's own."""
    dirs = [d for d in env.get("QT_QPA_PLATFORM_PLUGIN_PATH", "").split(os.pathsep) if d]
    try:
        import PySide6

        dirs.append(os.path.join(os.path.dirname(PySide6.__file__), "Qt", "plugins", "platforms"))
    except ImportError:
        pass
    return dirs


def _missing_library(plugin: str) -> str | None:
    """The shared library the plugin cannot find (as the dynamic loader names it), or None when it loads."""
    try:
        ctypes.CDLL(plugin, mode=os.RTLD_LAZY if hasattr(os, "RTLD_LAZY") else 0)
    except OSError as error:
        match = re.search(r"([\w.+-]+\.so[\w.]*): cannot open shared object", str(error))
        return match.group(1) if match else str(error)
    return None


def _display_reachable(display: str) -> bool:
    """True when libxcb connects to ``display`` (or when libxcb itself cannot be loaded to ask)."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return True  # the plugin check names what is missing
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    try:
        return connection is not None and xcb.xcb_connection_has_error(connection) == 0
    finally:
        if connection is not None:
            xcb.xcb_disconnect(connection)


def platform_problem(env: Mapping[str, str] | None = None) -> str | None:
    """Why Qt could not open a window here (one line), or None when it can as far as can be told."""
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux") or _platform_name(env) != "xcb":
        return None
    for folder in _plugin_dirs(env):
        plugin = os.path.join(folder, "libqxcb.so")
        if not os.path.exists(plugin):
            continue
        missing = _missing_library(plugin)
        if missing is not None:
            return (f"the desktop app cannot start: Qt's xcb platform plugin needs {missing}, which is not "
                    f"installed. On Debian/Ubuntu: apt-get install {XCB_PACKAGES}; {HEADLESS}")
        break
    display = env.get("DISPLAY", "")
    if not display:
        return f"the desktop app cannot start: there is no display (DISPLAY is not set); {HEADLESS}"
    if not _display_reachable(display):
        return f"the desktop app cannot start: the display {display} cannot be reached; {HEADLESS}"
    return None
