"""The Open Model dialog: torchvision's model zoo by task, timm and Hugging Face, with a search box and a short description.

timm and Hugging Face appear when their packages are installed; their names
are listed by a worker thread (importing timm takes seconds), and open with
random weights (``timm:NAME``, ``hf:MODEL_TYPE`` from its default
configuration).

The description (parameter count and natural input) comes from building the
selected architecture on the meta device, which allocates no weights; it is
computed once per name, a moment after the selection settles, on a worker
thread (the largest builders take a few hundred milliseconds even on meta),
so scrolling through the list stays smooth.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from inspector.core.task import TaskState
from inspector.gui.run_worker import Worker

TASK_TITLES = {
    "classification": "Classification",
    "detection": "Detection",
    "segmentation": "Segmentation",
    "video": "Video",
    "optical_flow": "Optical flow",
}
DESCRIBE_DELAY_MS = 150
EXTRA_SOURCES = {"timm": ("timm", "timm"), "hf": ("transformers", "Hugging Face")}
"""source -> (package that must be installed, title of its group)."""


def list_extra_sources(sources: list[str]) -> dict[str, list[str]]:
    """``{"timm": ["timm:resnet50", ...], "hf": ["hf:bert", ...]}`` for the given installed sources."""
    from inspector.core.sources import hf_source, timm_source

    listed: dict[str, list[str]] = {}
    for source in sources:
        names = timm_source.list_models() if source == "timm" else hf_source.model_types()
        listed[source] = [f"{source}:{name}" for name in names]
    return listed


def _describe_extra(spec: str, task: str) -> str:
    from inspector.core.loading import load_model
    from inspector.core.tree import count_params

    try:
        model = load_model(spec, meta=True).module
    except Exception as error:  # noqa: BLE001 - a model type without a default build still gets listed
        return f"<b>{spec}</b>: no description ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})."
    params = count_params(model)
    modules = sum(1 for _ in model.named_modules())
    where = "its default configuration" if task == "hf" else "timm"
    return (
        f"<b>{spec}</b> — {type(model).__name__}, from {where}<br>"
        f"{params:,} parameters ({params * 4 / 2**20:,.1f} MiB in float32), {modules:,} modules<br>"
        f"<i>Opens with random weights (nothing is downloaded).</i>"
    )


def describe_model(name: str, task: str) -> str:
    """One paragraph about an architecture: parameters and natural input (timm and hf: parameters)."""
    if task in EXTRA_SOURCES:
        return _describe_extra(name, task)
    from inspector.core.inputs import natural_input
    from inspector.core.loading import build_torchvision
    from inspector.core.tree import count_params

    try:
        model = build_torchvision(name, meta=True)
    except Exception as error:  # noqa: BLE001 - a builder that cannot run on meta still gets listed
        return f"{name} ({TASK_TITLES.get(task, task)}): no description ({type(error).__name__})."
    params = count_params(model)
    spec = natural_input(model, name, task)
    modules = sum(1 for _ in model.named_modules())
    if spec is None:
        shape = "unknown"
    else:
        shape = "[" + ", ".join(str(s) for s in spec.shape) + "]"
        if spec.layout == "images":
            shape += " as a list of images"
        elif spec.layout == "pair":
            shape += " × 2 (a pair of images)"
    return (
        f"<b>{name}</b> — {type(model).__name__}, {TASK_TITLES.get(task, task).lower()}<br>"
        f"{params:,} parameters ({params * 4 / 2**20:,.1f} MiB in float32), {modules:,} modules<br>"
        f"Natural input: {shape}<br><i>Opens with random weights (nothing is downloaded).</i>"
    )


class OpenModelDialog(QDialog):
    """Choose a torchvision architecture; :attr:`chosen` holds the name after ``accept``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from inspector.core.loading import list_models

        self.setWindowTitle("Open model")
        self.setObjectName("openModelDialog")
        self.resize(760, 520)
        self.chosen: str | None = None
        self._descriptions: dict[str, str] = {}
        self._describing: Worker | None = None
        """The worker making a description; its ``description`` is the model's name."""
        self._closed = False
        self.search_edit = QLineEdit(self)
        self.search_edit.setObjectName("zooSearch")
        self.search_edit.setPlaceholderText("Search models (e.g. resnet, vit, rcnn)")
        self.search_edit.setClearButtonEnabled(True)
        self.model_list = QTreeWidget(self)
        self.model_list.setObjectName("zooList")
        self.model_list.setHeaderHidden(True)
        self.description = QLabel(self)
        self.description.setObjectName("zooDescription")
        self.description.setWordWrap(True)
        self.description.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.description.setTextFormat(Qt.TextFormat.RichText)
        self.description.setMinimumWidth(260)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel, self
        )
        self._tasks: dict[str, QTreeWidgetItem] = {}
        for task, name in list_models("all"):
            parent_item = self._tasks.get(task)
            if parent_item is None:
                parent_item = QTreeWidgetItem([TASK_TITLES.get(task, task)])
                parent_item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self._tasks[task] = parent_item
                self.model_list.addTopLevelItem(parent_item)
            item = QTreeWidgetItem([name])
            item.setData(0, Qt.ItemDataRole.UserRole, (task, name))
            parent_item.addChild(item)
        for task, item in self._tasks.items():
            item.setText(0, f"{TASK_TITLES.get(task, task)} ({item.childCount()})")
        self.model_list.expandAll()
        self._listing: Worker | None = None
        self._list_extra_sources()

        splitter = QSplitter(self)
        splitter.addWidget(self.model_list)
        right = QWidget(splitter)
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.description)
        right_layout.addStretch(1)
        splitter.addWidget(right)
        splitter.setSizes([360, 400])
        layout = QVBoxLayout(self)
        layout.addWidget(self.search_edit)
        layout.addWidget(splitter, 1)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.buttons)
        layout.addLayout(bottom)

        self._describe_timer = QTimer(self)
        self._describe_timer.setSingleShot(True)
        self._describe_timer.setInterval(DESCRIBE_DELAY_MS)
        self._describe_timer.timeout.connect(self._on_describe_timer_timeout)
        self.search_edit.textChanged.connect(self._on_search_edit_changed)
        self.model_list.currentItemChanged.connect(self._on_model_list_current_changed)
        self.model_list.itemDoubleClicked.connect(self._on_model_list_double_clicked)
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.Open).setEnabled(False)
        self.description.setText("Choose a model to see its size and natural input.")
        self.search_edit.setFocus()

    def _list_extra_sources(self) -> None:
        """Groups for timm and Hugging Face when installed, filled by a worker (importing timm takes seconds)."""
        from inspector.core.sources import available

        sources = [s for s, (package, _) in EXTRA_SOURCES.items() if available(package)]
        if not sources:
            return
        for source in sources:
            item = QTreeWidgetItem([f"{EXTRA_SOURCES[source][1]} (listing…)"])
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self._tasks[source] = item
            self.model_list.addTopLevelItem(item)
        job = lambda _state: list_extra_sources(sources)  # noqa: E731
        worker = self._listing = Worker(job, TaskState("list timm and Hugging Face models"), self)
        worker.sig_succeeded.connect(self._on_listed)
        worker.sig_failed.connect(self._on_listing_failed)
        worker.start()

    def _on_listed(self, listed: dict[str, list[str]]) -> None:
        if self._listing is not None:
            self._listing.wait()
            self._listing.deleteLater()
            self._listing = None
        if self._closed:
            return
        for source, names in listed.items():
            group = self._tasks[source]
            for name in names:
                item = QTreeWidgetItem([name])
                item.setData(0, Qt.ItemDataRole.UserRole, (source, name))
                group.addChild(item)
            group.setText(0, f"{EXTRA_SOURCES[source][1]} ({group.childCount()})")
        self._on_search_edit_changed(self.search_edit.text())

    def _on_listing_failed(self, error: Exception, _trace: str) -> None:
        self._on_listed({})
        for source in EXTRA_SOURCES:
            if source in self._tasks and self._tasks[source].childCount() == 0:
                self._tasks[source].setText(0, f"{EXTRA_SOURCES[source][1]} (not listed: {error})")

    @property
    def extra_sources_listed(self) -> bool:
        """True once the timm and Hugging Face groups are filled (or there are none)."""
        return self._listing is None

    def select(self, name: str) -> bool:
        """Make ``name`` the current model; False when it is not listed."""
        for task_item in self._tasks.values():
            for row in range(task_item.childCount()):
                item = task_item.child(row)
                if item is not None and item.text(0) == name:
                    self.model_list.setCurrentItem(item)
                    return True
        return False

    def _current(self) -> tuple[str, str] | None:
        item = self.model_list.currentItem()
        data = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
        return (str(data[0]), str(data[1])) if data else None

    def _on_search_edit_changed(self, text: str) -> None:
        needle = text.strip().lower()
        first_visible: QTreeWidgetItem | None = None
        for task_item in self._tasks.values():
            shown = 0
            for row in range(task_item.childCount()):
                item = task_item.child(row)
                if item is None:
                    continue
                visible = needle in item.text(0).lower()
                item.setHidden(not visible)
                if visible:
                    shown += 1
                    first_visible = first_visible or item
            task_item.setHidden(shown == 0 and bool(needle))
        current = self.model_list.currentItem()
        if first_visible is not None and (current is None or current.isHidden()):
            self.model_list.setCurrentItem(first_visible)

    def _on_model_list_current_changed(self, current: QTreeWidgetItem | None, _previous: object) -> None:
        chosen = self._current()
        self.buttons.button(QDialogButtonBox.StandardButton.Open).setEnabled(chosen is not None)
        if chosen is None:
            return
        cached = self._descriptions.get(chosen[1])
        if cached is not None:
            self.description.setText(cached)
        else:
            self.description.setText(f"<b>{chosen[1]}</b><br>…")
            self._describe_timer.start()

    def _on_describe_timer_timeout(self) -> None:
        chosen = self._current()
        if chosen is None or chosen[1] in self._descriptions or self._describing is not None or self._closed:
            return  # a description on its way starts the next one when it arrives
        task, name = chosen
        job = lambda _state: describe_model(name, task)  # noqa: E731
        worker = self._describing = Worker(job, TaskState(name), self)
        # Bound methods: the dialog is the receiver, so a late signal dies with it.
        worker.sig_succeeded.connect(self._on_described)
        worker.sig_failed.connect(self._on_describing_failed)
        worker.start()

    def _on_describing_failed(self, error: Exception, _trace: str) -> None:
        self._on_described(f"{self._describing.description if self._describing else ''}: no description ({error}).")

    def _on_described(self, text: str) -> None:
        worker = self._describing
        if worker is None or self._closed:
            return
        worker.wait()
        self._describing = None
        worker.deleteLater()
        self._descriptions[worker.description] = text
        chosen = self._current()
        if chosen is not None and chosen[1] == worker.description:
            self.description.setText(text)
        elif chosen is not None and chosen[1] not in self._descriptions:
            self._on_describe_timer_timeout()

    def done(self, result: int) -> None:
        """Close, once a description still being made has finished (its thread must not outlive the dialog)."""
        self._closed = True
        self._describe_timer.stop()
        if self._describing is not None:
            self._describing.wait()
        if self._listing is not None:
            self._listing.wait()
        super().done(result)

    def _on_model_list_double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        if item.data(0, Qt.ItemDataRole.UserRole):
            self._on_buttons_accepted()

    def _on_buttons_accepted(self) -> None:
        chosen = self._current()
        if chosen is None:
            return
        self.chosen = chosen[1]
        self.accept()
