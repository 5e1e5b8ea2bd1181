"""The panels the main window assembles."""
