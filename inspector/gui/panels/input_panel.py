"""The input & device panel: sample shape, dtype, fill, seed, device, mode, Run/Cancel and progress.

The panel only edits a description of the input; :meth:`InputPanel.spec`
turns it into the core's :class:`~inspector.core.inputs.InputSpec`, raising
the core's :class:`~inspector.core.errors.InputError` with a message the
panel shows next to the fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from inspector.core.inputs import InputSpec

FILLS = ("randn", "rand", "zeros", "ones", "image")
DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "uint8", "bool")
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff);;All files (*)"


class InputPanel(QWidget):
    """Fields of the sample input and the device, with the Run and Cancel buttons."""

    sig_changed = Signal()
    """The user changed the input, the device or the mode."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inputPanel")
        self._layout_kind = "tensor"
        self.choose_image: Callable[[], str | None] = lambda: None
        """Asks the user for an image file; the window sets it (tests replace it)."""

        self.shape_edit = QLineEdit(self)
        self.shape_edit.setObjectName("inputShapeEdit")
        self.shape_edit.setPlaceholderText("e.g. 1,3,224,224")
        self.shape_edit.setToolTip("Shape of the sample tensor, sizes separated by commas")
        self.shape_edit.setMinimumWidth(150)
        self.dtype_combo = QComboBox(self)
        self.dtype_combo.setObjectName("dtypeCombo")
        self.dtype_combo.addItems(DTYPES)
        self.fill_combo = QComboBox(self)
        self.fill_combo.setObjectName("fillCombo")
        self.fill_combo.addItems(FILLS)
        self.fill_combo.setItemText(FILLS.index("image"), "image file")
        self.fill_combo.setToolTip("How the sample is filled: random normal/uniform, zeros, ones, or an image file")
        self.image_edit = QLineEdit(self)
        self.image_edit.setObjectName("imagePathEdit")
        self.image_edit.setPlaceholderText("image file")
        self.browse_button = QPushButton("Browse…", self)
        self.seed_spin = QSpinBox(self)
        self.seed_spin.setObjectName("seedSpin")
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setMinimumWidth(90)
        self.seed_spin.setToolTip("Random seed of the sample: the same seed gives the same values on every device")
        self.device_combo = QComboBox(self)
        self.device_combo.setObjectName("deviceCombo")
        self.device_combo.addItem("cpu")
        self.device_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.device_combo.setToolTip("Devices torch can use on this machine")
        self.mode_combo = QComboBox(self)
        self.mode_combo.setObjectName("modeCombo")
        self.mode_combo.addItems(("eval", "train"))
        self.mode_combo.setToolTip("eval or train mode for the run (each module's own flag is put back afterwards)")
        self.run_button = QToolButton(self)
        self.run_button.setObjectName("runButton")
        self.cancel_button = QToolButton(self)
        self.cancel_button.setObjectName("cancelButton")
        for button in (self.run_button, self.cancel_button):
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("runProgress")
        self.progress.setFormat("%v / %m modules")
        self.progress.setTextVisible(True)
        self.progress.setValue(0)
        self.problem_label = QLabel(self)
        self.problem_label.setObjectName("inputProblem")
        self.problem_label.setWordWrap(True)
        self.problem_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.problem_label.setVisible(False)

        self.shape_edit.setMaximumWidth(220)
        self.image_edit.setMinimumWidth(160)
        first = QHBoxLayout()
        first.setSpacing(6)
        first.addWidget(_label("Input shape", self.shape_edit))
        first.addWidget(self.shape_edit, 1)
        first.addSpacing(8)
        first.addWidget(_label("dtype", self.dtype_combo))
        first.addWidget(self.dtype_combo)
        first.addSpacing(8)
        first.addWidget(_label("Fill", self.fill_combo))
        first.addWidget(self.fill_combo)
        first.addWidget(self.image_edit, 1)
        first.addWidget(self.browse_button)
        first.addSpacing(8)
        first.addWidget(_label("Seed", self.seed_spin))
        first.addWidget(self.seed_spin)
        first.addStretch(1)
        second = QHBoxLayout()
        second.setSpacing(6)
        second.addWidget(_label("Device", self.device_combo))
        second.addWidget(self.device_combo)
        second.addSpacing(8)
        second.addWidget(_label("Mode", self.mode_combo))
        second.addWidget(self.mode_combo)
        second.addSpacing(12)
        second.addWidget(self.run_button)
        second.addWidget(self.cancel_button)
        second.addWidget(self.progress, 1)
        rows = QVBoxLayout(self)
        rows.setContentsMargins(8, 6, 8, 6)
        rows.setSpacing(6)
        rows.addLayout(first)
        rows.addLayout(second)
        rows.addWidget(self.problem_label)

        self._show_image_fields(False)
        self.fill_combo.currentIndexChanged.connect(self._on_fill_combo_changed)
        self.browse_button.clicked.connect(self._on_browse_button_clicked)
        for edit in (self.shape_edit, self.image_edit):
            edit.textEdited.connect(self._on_field_changed)
        for combo in (self.dtype_combo, self.device_combo, self.mode_combo):
            combo.activated.connect(self._on_field_changed)
        self.seed_spin.valueChanged.connect(self._on_field_changed)

    # ----------------------------------------------------------------- wiring

    def attach_actions(self, run: QAction, cancel: QAction) -> None:
        """Make the Run and Cancel buttons show and trigger the window's actions."""
        self.run_button.setDefaultAction(run)
        self.cancel_button.setDefaultAction(cancel)

    # ----------------------------------------------------------------- values

    def set_spec(self, spec: InputSpec | None) -> None:
        """Show an input description (the model's natural input when it is opened)."""
        self.show_problem(None)
        if spec is None:
            self._layout_kind = "tensor"
            self.shape_edit.clear()
            self.shape_edit.setPlaceholderText("no natural input known: give a shape, e.g. 1,3,224,224")
            return
        self._layout_kind = spec.layout
        self.shape_edit.setText(",".join(str(s) for s in spec.shape))
        self.dtype_combo.setCurrentText(spec.dtype)
        if spec.fill.startswith("image:"):
            self.fill_combo.setCurrentIndex(FILLS.index("image"))
            self.image_edit.setText(spec.fill[len("image:"):])
        else:
            self.fill_combo.setCurrentIndex(FILLS.index(spec.fill) if spec.fill in FILLS else 0)
        self.seed_spin.setValue(spec.seed)
        self.shape_edit.setToolTip(_layout_tip(spec.layout))

    def spec(self) -> InputSpec:
        """The input as described by the fields; :class:`InputError` when it is not valid."""
        from inspector.core.errors import InputError
        from inspector.core.inputs import InputSpec, check_fill, parse_shape

        shape = parse_shape(self.shape_edit.text())
        fill = FILLS[self.fill_combo.currentIndex()]
        if fill == "image":
            path = self.image_edit.text().strip()
            if not path:
                raise InputError("choose an image file for the image fill (Browse…), or another fill")
            fill = f"image:{path}"
        check_fill(fill)
        return InputSpec(shape, dtype=self.dtype_combo.currentText(), fill=fill, seed=self.seed_spin.value(),
                         layout=self._layout_kind)

    def device(self) -> str:
        """The chosen device's name (``cpu``, ``cuda:0``, ...)."""
        return self.device_combo.currentText()

    def set_device(self, name: str) -> None:
        """Choose a device by name, when it is listed."""
        index = self.device_combo.findText(name)
        if index >= 0:
            self.device_combo.setCurrentIndex(index)

    def set_devices(self, names: list[str]) -> None:
        """List the devices torch can use here (``cpu`` first), keeping the choice when it is still there."""
        current = self.device_combo.currentText()
        self.device_combo.clear()
        self.device_combo.addItems(names)
        self.set_device(current)

    def mode(self) -> str:
        """``eval`` or ``train``."""
        return self.mode_combo.currentText()

    def set_mode(self, mode: str) -> None:
        """Choose ``eval`` or ``train``."""
        self.mode_combo.setCurrentText(mode)

    # ----------------------------------------------------------------- run state

    def set_running(self, running: bool) -> None:
        """Lock the fields during a run: the run uses what they said when it started."""
        for widget in (self.shape_edit, self.dtype_combo, self.fill_combo, self.image_edit, self.browse_button,
                       self.seed_spin, self.device_combo, self.mode_combo):
            widget.setEnabled(not running)
        if running:
            self.progress.setRange(0, 0)
            self.progress.setFormat("starting…")

    def set_progress(self, done: int, total: int) -> None:
        """Show a run's progress in modules done out of all."""
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(done, max(total, 1)))
        self.progress.setFormat("%v / %m modules")

    def finish_progress(self, text: str) -> None:
        """Show how the run ended in the bar (done, cancelled, failed)."""
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
        self.progress.setFormat(text)

    def show_problem(self, message: str | None) -> None:
        """Show why the input cannot be used (None hides it)."""
        self.problem_label.setVisible(bool(message))
        self.problem_label.setText(message or "")

    # ----------------------------------------------------------------- slots

    def _show_image_fields(self, visible: bool) -> None:
        self.image_edit.setVisible(visible)
        self.browse_button.setVisible(visible)

    def _on_fill_combo_changed(self, index: int) -> None:
        is_image = FILLS[index] == "image"
        self._show_image_fields(is_image)
        if is_image and not self.image_edit.text():
            self._on_browse_button_clicked()
        self.sig_changed.emit()

    def _on_browse_button_clicked(self) -> None:
        path = self.choose_image()
        if path:
            self.image_edit.setText(path)
            self.sig_changed.emit()

    def _on_field_changed(self, *_: object) -> None:
        self.show_problem(None)
        self.sig_changed.emit()


def _label(text: str, buddy: QWidget) -> QLabel:
    label = QLabel(text, buddy.parentWidget())
    label.setBuddy(buddy)
    return label


def _layout_tip(layout: str) -> str:
    if layout == "images":
        return "Shape of the images [N,C,H,W]: the model receives them as a list of N [C,H,W] images"
    if layout == "pair":
        return "Shape of each of the two images the model receives (e.g. two frames for optical flow)"
    return "Shape of the sample tensor, sizes separated by commas"
