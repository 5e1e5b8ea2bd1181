"""Errors the core raises: each carries a message a person can act on."""

from __future__ import annotations


class InspectorError(Exception):
    """Base of every error the core raises on purpose.

    ``str(error)`` is one line that says what is wrong and what to do.
    """


class ModelLoadError(InspectorError):
    """A model could not be loaded from the given source."""


class TrustRequired(ModelLoadError):
    """A file can only be read with the full unpickler, which can run code.

    ``wanted`` names the classes or functions the file asks the unpickler for.
    """

    def __init__(self, message: str, wanted: list[str] | None = None) -> None:
        super().__init__(message)
        self.wanted = list(wanted or [])


class ArchitectureRequired(ModelLoadError):
    """A state_dict file was given without the architecture to load it into."""


class EditError(InspectorError):
    """An edit (replace with Identity, restore) cannot be made."""


class InputError(InspectorError):
    """The sample input cannot be built (bad shape, dtype, fill or image)."""


class DeviceError(InspectorError):
    """A device that torch cannot use here."""


class MetaUnsupported(InspectorError):
    """A model cannot run on the meta device (it reads tensor values)."""
