"""Model Inspector: look inside PyTorch models.

``inspector.core`` is the headless engine (torch and numpy only);
``inspector.gui`` is the PySide6 desktop application built on it;
``inspector.cli`` is the command line.
"""

__version__ = "0.1.0"
