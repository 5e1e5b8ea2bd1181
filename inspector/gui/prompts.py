"""The questions the window asks a person, behind one small object.

The window never opens a dialog directly: it asks :class:`Prompts`. Tests
pass their own object with the same methods, so no code path checks whether
it is under test (no environment-variable switches in the logic).
"""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

MODEL_FILE_FILTER = (
    "Model files (*.pt *.pth *.ts *.pt2 *.bin *.ckpt *.pkl *.jit);;Python model factory (*.py);;All files (*)"
)
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff);;All files (*)"


class Prompts:
    """Modal questions, parented to the window."""

    def __init__(self, parent: QWidget) -> None:
        self.parent = parent

    def confirm(self, title: str, text: str) -> bool:
        """Yes or no; the safe answer (no) is the default."""
        answer = QMessageBox.question(
            self.parent, title, text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def trust(self, path: str, message: str, wanted: list[str]) -> bool:
        """Ask whether a source may run code: a pickle for the full unpickler, a ``.pt2`` program, or a
        Python callable (named on a session file or the recent list), naming what would run."""
        box = QMessageBox(self.parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Trust this file?")
        box.setText(f"Opening {path} can run any code it contains or names.")
        listed = "\n".join(f"  • {name}" for name in wanted[:20]) or "  (the file does not say)"
        box.setInformativeText(f"What it would run or ask for:\n{listed}\n\nOpen it only if you trust where it came from.")
        box.setDetailedText(message)
        trust = box.addButton("Trust and open", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is trust

    def choose_architecture(self, path: str, names: list[str]) -> str | None:
        """The torchvision architecture a state_dict file should be loaded into."""
        default = names.index("resnet18") if "resnet18" in names else 0
        name, ok = QInputDialog.getItem(
            self.parent, "Choose the architecture",
            f"{path} holds weights only (a state_dict).\nWhich torchvision architecture are they for?",
            names, default, True,
        )
        return name.strip() if ok and name.strip() else None

    def choose_model(self, current: str | None) -> str | None:
        """A torchvision model name from the zoo browser."""
        from inspector.gui.open_dialog import OpenModelDialog

        dialog = OpenModelDialog(self.parent)
        if current:
            dialog.select(current)
        try:
            return dialog.chosen if dialog.exec() else None
        finally:
            dialog.deleteLater()

    def open_model_file(self, directory: str) -> str | None:
        """A model file, or ``file.py:factory`` for a Python file; None when cancelled."""
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open model file", directory, MODEL_FILE_FILTER)
        if path.endswith(".py"):
            factory, ok = QInputDialog.getText(
                self.parent, "Model factory", f"Name of the function or class in {path} that builds the model:",
                text="make_model",
            )
            return f"{path}:{factory.strip()}" if ok and factory.strip() else None
        return path or None

    def open_session_file(self, directory: str) -> str | None:
        """A saved session (``.inspector.json``) to open."""
        from inspector.gui.session_io import SESSION_FILTER

        path, _ = QFileDialog.getOpenFileName(self.parent, "Open session", directory, SESSION_FILTER)
        return path or None

    def choose_image(self) -> str | None:
        """An image file for the image fill; None when cancelled."""
        path, _ = QFileDialog.getOpenFileName(self.parent, "Sample image", "", IMAGE_FILTER)
        return path or None

    def save_file(self, title: str, suggested: str, file_filter: str) -> str | None:
        """Where to write a file; None when cancelled."""
        path, _ = QFileDialog.getSaveFileName(self.parent, title, suggested, file_filter)
        return path or None

    def inform(self, title: str, text: str) -> None:
        """Tell the user something that needs no answer."""
        QMessageBox.information(self.parent, title, text)
