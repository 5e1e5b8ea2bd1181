"""The input & device panel: the inputs (shape, dtype, fill), seed, device, mode, Run/Cancel and progress.

The panel only edits a description of the input; :meth:`InputPanel.inputs`
turns it into the core's :class:`~inspector.core.inputs.ModelInput`, raising
the core's :class:`~inspector.core.errors.InputError` with a message the
panel shows next to the fields. The first input is edited in the row of
fields, as when a model had one; any further input (by name or position) is
a row of the table under it, shown only when there is one. Where each
default came from ("declared by timm", "guessed from conv1 (Conv2d)") is
shown under the fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent, QValidator
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from inspector.core.inputs import InputSpec, ModelInput
    from inspector.core.session import Session
    from inspector.gui.controller import SessionController

FILLS = ("randn", "rand", "zeros", "ones", "image", "randint", "arange")
DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "uint8", "bool")
EXTRA_COLUMNS = ("Name", "Shape", "dtype", "Fill", "Source")
"""Columns of the table of further inputs: name or position, then as the fields of the first."""


class InputPanel(QWidget):
    """Fields of the sample input and the device, with the Run and Cancel buttons."""

    sig_changed = Signal()
    """The user changed the input, the device or the mode."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inputPanel")
        self._layout_kind = "tensor"
        self._first_key = "0"
        """Where the first input goes: ``0`` (the first position) or a parameter name."""
        self._first_source = ""
        self._first_name = ""
        """The forward parameter of the first input, when known (shown when there are several)."""
        self._first_described: tuple[object, ...] | None = None
        """The first input as it was set (shape, dtype, fill, layout): edited, its source becomes "given"."""
        self._fixed: dict[str, object] = {}
        """Inputs the table shows but cannot edit (nested, scalars, tensors from a file), by row name."""
        self._seed_for_fixed = 0
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
        self.seed_spin = SeedBox(self)
        self.seed_spin.setObjectName("seedSpin")
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
        self.name_label = QLabel(self)
        self.name_label.setObjectName("inputNameLabel")
        self.name_label.setToolTip("The forward parameter the first input is given to")
        self.add_input_button = QToolButton(self)
        self.add_input_button.setObjectName("addInputButton")
        self.add_input_button.setText("+ Input")
        self.add_input_button.setToolTip("Add another input of forward, by parameter name or position")
        self.remove_input_button = QToolButton(self)
        self.remove_input_button.setObjectName("removeInputButton")
        self.remove_input_button.setText("− Input")
        self.remove_input_button.setToolTip("Remove the selected input from the table")
        self.extra_table = QTableWidget(0, len(EXTRA_COLUMNS), self)
        self.extra_table.setObjectName("extraInputsTable")
        self.extra_table.setHorizontalHeaderLabels(list(EXTRA_COLUMNS))
        self.extra_table.horizontalHeader().setStretchLastSection(True)
        self.extra_table.verticalHeader().setVisible(False)
        self.extra_table.setToolTip(
            "Further inputs of forward: a name (a parameter) or a position (1, 2, ...); shape, dtype and fill "
            "as for the first (fills: randn, rand, zeros, ones, randint:LOW,HIGH, arange)"
        )
        self.source_label = QLabel(self)
        self.source_label.setObjectName("inputSourceLabel")
        self.source_label.setWordWrap(True)
        self.source_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.source_label.setVisible(False)
        self.problem_label = QLabel(self)
        self.problem_label.setObjectName("inputProblem")
        self.problem_label.setWordWrap(True)
        self.problem_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.problem_label.setVisible(False)

        self.shape_edit.setMaximumWidth(220)
        self.image_edit.setMinimumWidth(160)
        first = QHBoxLayout()
        first.setSpacing(6)
        first.addWidget(self.name_label)
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
        first.addSpacing(8)
        first.addWidget(self.add_input_button)
        first.addWidget(self.remove_input_button)
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
        rows.addWidget(self.extra_table)
        rows.addWidget(self.source_label)
        rows.addLayout(second)
        rows.addWidget(self.problem_label)

        self._show_image_fields(False)
        self._show_extra_inputs()
        self.add_input_button.clicked.connect(self._on_add_input_button_clicked)
        self.remove_input_button.clicked.connect(self._on_remove_input_button_clicked)
        self.extra_table.itemChanged.connect(self._on_field_changed)
        self.fill_combo.currentIndexChanged.connect(self._on_fill_combo_changed)
        self.browse_button.clicked.connect(self._on_browse_button_clicked)
        for edit in (self.shape_edit, self.image_edit):
            edit.textEdited.connect(self._on_field_changed)
        for combo in (self.dtype_combo, self.device_combo, self.mode_combo):
            combo.activated.connect(self._on_field_changed)
        self.seed_spin.valueChanged.connect(self._on_field_changed)

    # ----------------------------------------------------------------- wiring

    def follow(self, controller: SessionController) -> None:
        """Show the controller's session's input, device and mode, and its runs' progress, from now on."""
        controller.sig_session_opened.connect(self._on_controller_session_opened)
        controller.sig_busy_changed.connect(self._on_controller_busy_changed)
        controller.sig_run_progressed.connect(self.set_progress)

    def _on_controller_session_opened(self, session: Session, _tree: object) -> None:
        from inspector.core.devices import available_devices
        from inspector.core.dispatch import device_choices

        self.set_running(False)
        self.set_devices(device_choices(available_devices()))
        self.set_inputs(session.inputs)
        self.set_device("auto" if session.dispatch is not None else str(session.device))
        self.set_mode(session.mode)
        self.finish_progress("not run yet")

    def _on_controller_busy_changed(self, busy: bool) -> None:
        if not busy:
            self.set_running(False)

    def attach_actions(self, run: QAction, cancel: QAction) -> None:
        """Make the Run and Cancel buttons show and trigger the window's actions."""
        self.run_button.setDefaultAction(run)
        self.cancel_button.setDefaultAction(cancel)

    # ----------------------------------------------------------------- values

    def set_spec(self, spec: InputSpec | ModelInput | None) -> None:
        """Show an input description (the model's natural input when it is opened)."""
        from inspector.core.inputs import InputSpec, ModelInput

        self.show_problem(None)
        inputs = ModelInput.single(spec) if isinstance(spec, InputSpec) else spec
        self._fixed = {}
        self._first_described = None
        while self.fill_combo.count() > len(FILLS):  # fills added for the previous model
            self.fill_combo.removeItem(self.fill_combo.count() - 1)
        self.extra_table.blockSignals(True)
        self.extra_table.setRowCount(0)
        self.extra_table.blockSignals(False)
        entries = _entries(inputs) if inputs is not None else []
        first = next(((key, value) for key, value in entries if isinstance(value, InputSpec)), None)
        if first is None:
            self._layout_kind = "tensor"
            self._first_key = "0"
            self._first_name = ""
            self._first_source = ""
            self.shape_edit.clear()
            self.shape_edit.setPlaceholderText("no natural input known: give a shape, e.g. 1,3,224,224")
            if inputs is not None and entries:
                self._seed_for_fixed = inputs.seed
                for key, value in entries:
                    self._add_row(key, value)
            self._show_extra_inputs()
            return
        key, first_spec = first
        self._first_key = key
        self._first_name = first_spec.name or key
        self._first_source = first_spec.source
        self._first_described = (first_spec.shape, first_spec.dtype, first_spec.fill, first_spec.layout)
        self._layout_kind = first_spec.layout
        self.shape_edit.setText(",".join(str(s) for s in first_spec.shape))
        self.dtype_combo.setCurrentText(first_spec.dtype)
        if first_spec.fill.startswith("image:"):
            self.fill_combo.setCurrentIndex(FILLS.index("image"))
            self.image_edit.setText(first_spec.fill[len("image:"):])
        else:
            self._set_fill_text(first_spec.fill)
        self.seed_spin.setValue(inputs.seed if inputs is not None else first_spec.seed)
        self.shape_edit.setToolTip(_layout_tip(first_spec.layout))
        for other_key, value in entries:
            if other_key != key:
                self._add_row(other_key, value)
        self._show_extra_inputs()

    def set_inputs(self, inputs: ModelInput | None) -> None:
        """Show every input of the model (the first in the fields, any others in the table)."""
        self.set_spec(inputs)

    def spec(self) -> InputSpec:
        """The first input as described by the fields; :class:`InputError` when it is not valid."""
        from inspector.core.errors import InputError
        from inspector.core.inputs import InputSpec, check_fill, parse_shape

        shape = parse_shape(self.shape_edit.text())
        fill = self.fill_combo.currentText() if self.fill_combo.currentIndex() >= len(FILLS) else FILLS[
            self.fill_combo.currentIndex()]
        if fill == "image":
            path = self.image_edit.text().strip()
            if not path:
                raise InputError("choose an image file for the image fill (Browse…), or another fill")
            fill = f"image:{path}"
        dtype = self.dtype_combo.currentText()
        check_fill(fill, dtype)
        unchanged = self._first_described == (shape, dtype, fill, self._layout_kind)
        return InputSpec(shape, dtype=dtype, fill=fill, seed=self.seed_spin.value(), layout=self._layout_kind,
                         name=None if self._first_key.isdigit() else self._first_key,
                         source=self._first_source if unchanged and self._first_source else "given")

    def inputs(self) -> ModelInput:
        """Every input as the fields and the table describe them; :class:`InputError` when one is not valid."""
        from inspector.core.errors import InputError
        from inspector.core.inputs import InputSpec, ModelInput, check_fill, dtype_name, parse_shape

        entries: list[tuple[str, object]] = [(self._first_key, self.spec())]
        for row in range(self.extra_table.rowCount()):
            key = self._cell(row, 0)
            if not key or not (key.isdigit() or key.isidentifier()):
                raise InputError(f"input row {row + 2}: give a parameter name or a position (1, 2, ...), not {key!r}")
            if key in self._fixed:
                entries.append((key, self._fixed[key]))
                continue
            try:
                shape = parse_shape(self._cell(row, 1))
                dtype = dtype_name(self._cell(row, 2) or "float32")
                fill = self._cell(row, 3) or ("randn" if dtype.startswith(("float", "bfloat")) else "randint")
                check_fill(fill, dtype)
            except InputError as error:
                raise InputError(f"input {key}: {error}") from None
            source = self._cell(row, 4) or "given"
            entries.append((key, InputSpec(shape, dtype, fill, name=None if key.isdigit() else key, source=source)))
        positional = {int(k): v for k, v in entries if k.isdigit()}
        names = [k for k, _ in entries if not k.isdigit()]
        if len(positional) + len(names) != len(entries) or len(set(names)) != len(names):
            raise InputError("an input is given twice; every name and position once")
        if sorted(positional) != list(range(len(positional))):
            raise InputError("positions of inputs start at 0 and have no gaps (0, 1, 2, ...)")
        return ModelInput([positional[i] for i in range(len(positional))],
                          {k: v for k, v in entries if not k.isdigit()}, self.seed_spin.value())

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
                       self.seed_spin, self.device_combo, self.mode_combo, self.extra_table,
                       self.add_input_button, self.remove_input_button):
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
        is_image = index < len(FILLS) and FILLS[index] == "image"
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

    def _on_add_input_button_clicked(self) -> None:
        from inspector.core.inputs import InputSpec

        taken = {self._first_key} | {self._cell(row, 0) for row in range(self.extra_table.rowCount())}
        position = next(i for i in range(1, 1000) if str(i) not in taken)
        try:
            shape = self.spec().shape
        except Exception:  # noqa: BLE001 - a first input being typed: the new row starts from a plain shape
            shape = (1, 3, 224, 224)
        self._add_row(str(position), InputSpec(shape, source="given"))
        self._show_extra_inputs()
        self.extra_table.setCurrentCell(self.extra_table.rowCount() - 1, 0)
        self.sig_changed.emit()

    def _on_remove_input_button_clicked(self) -> None:
        row = self.extra_table.currentRow()
        if row < 0:
            row = self.extra_table.rowCount() - 1
        if row < 0:
            return
        self._fixed.pop(self._cell(row, 0), None)
        self.extra_table.removeRow(row)
        self._show_extra_inputs()
        self.sig_changed.emit()

    # ----------------------------------------------------------------- the table of further inputs

    def _add_row(self, key: str, value: object) -> None:
        from inspector.core.inputs import InputSpec

        row = self.extra_table.rowCount()
        self.extra_table.blockSignals(True)
        self.extra_table.insertRow(row)
        if isinstance(value, InputSpec):
            cells = (key, ",".join(str(s) for s in value.shape), value.dtype, value.fill, value.source or "given")
            editable = (True, True, True, True, False)
        else:
            # Nested inputs, scalars and tensors from a file cannot be typed here: kept as they are.
            self._fixed[key] = value
            cells = (key, _describe_fixed(value), "", "", "kept as given")
            editable = (False,) * 5
        for column, (text, can_edit) in enumerate(zip(cells, editable, strict=True)):
            item = QTableWidgetItem(text)
            if not can_edit:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            if column == 4:
                item.setToolTip(text)
            elif column == 0 and isinstance(value, InputSpec) and value.name and value.name != key:
                item.setToolTip(f"position {key}: the parameter {value.name}")
            self.extra_table.setItem(row, column, item)
        self.extra_table.blockSignals(False)

    def _cell(self, row: int, column: int) -> str:
        item = self.extra_table.item(row, column)
        return item.text().strip() if item is not None else ""

    def _show_extra_inputs(self) -> None:
        """The table and the first input's name only when the model takes more than one input."""
        rows = self.extra_table.rowCount()
        several = rows > 0 or not self._first_key.isdigit()
        self.extra_table.setVisible(rows > 0)
        # Tall enough for up to four rows without a scroll bar; more scroll.
        row_height = self.extra_table.verticalHeader().defaultSectionSize()
        self.extra_table.setFixedHeight(self.extra_table.horizontalHeader().sizeHint().height()
                                        + row_height * min(max(rows, 1), 4) + 2 * self.extra_table.frameWidth() + 2)
        self.remove_input_button.setVisible(rows > 0)
        self.name_label.setVisible(several)
        self.name_label.setText(f"<b>{self._first_name or self._first_key}</b>" if several else "")
        self.source_label.setVisible(bool(self._first_source))
        self.source_label.setText(f"Input: {self._source_text()}" if self._first_source else "")

    def _source_text(self) -> str:
        return self._first_source if self._first_source != "given" else "as given"

    def _set_fill_text(self, fill: str) -> None:
        """Choose a fill; one the combo does not list (``randint:0,50``, ``arange``) is added for this model."""
        index = self.fill_combo.findText(fill)
        if index < 0:
            self.fill_combo.addItem(fill)
            index = self.fill_combo.count() - 1
        self.fill_combo.setCurrentIndex(index)


def _entries(inputs: ModelInput) -> list[tuple[str, object]]:
    """Top-level inputs by key: positions as ``0``, ``1``, ...; names as they are."""
    return [(str(i), v) for i, v in enumerate(inputs.args)] + list(inputs.kwargs.items())


def _describe_fixed(value: object) -> str:
    import torch

    if isinstance(value, torch.Tensor):
        return f"tensor {list(value.shape)} {str(value.dtype).removeprefix('torch.')}"
    if isinstance(value, dict):
        return "{" + ", ".join(str(k) for k in value) + "}"
    if isinstance(value, (list, tuple)):
        return f"[{len(value)} items]"
    return repr(value)


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


SEED_MAX = 2**64 - 1
"""The largest seed torch takes (``--seed`` and session files take the same)."""


class _SeedValidator(QValidator):
    """Digits only, 0 to :data:`SEED_MAX`; an empty field is a seed being typed."""

    def validate(self, text: str, pos: int) -> object:
        if not text:
            return QValidator.State.Intermediate
        if text.isascii() and text.isdigit() and int(text) <= SEED_MAX:
            return QValidator.State.Acceptable
        return QValidator.State.Invalid


class SeedBox(QLineEdit):
    """The seed, 0 to 2**64 - 1 as on the command line: a spin box stops at 2**31 - 1, and a session's
    seed above that would be changed without a word. Up and Down step it, as in a spin box."""

    valueChanged = Signal(object)  # noqa: N815 - the name QSpinBox gives it, so the panel wires it alike

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("0", parent)
        self.setValidator(_SeedValidator(self))
        # Wide enough for the largest seed's 20 digits.
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance(str(SEED_MAX)) + 16)
        self.textEdited.connect(lambda _text: self.valueChanged.emit(self.value()))

    def value(self) -> int:
        text = self.text()
        return int(text) if text.isdigit() else 0

    def setValue(self, value: int) -> None:
        value = min(max(int(value), 0), SEED_MAX)
        if value != self.value() or not self.text():
            self.setText(str(value))
            self.setCursorPosition(0)
            self.valueChanged.emit(value)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        step = {Qt.Key.Key_Up: 1, Qt.Key.Key_Down: -1}.get(Qt.Key(event.key()))
        if step is None:
            super().keyPressEvent(event)
            return
        self.setValue(self.value() + step)
