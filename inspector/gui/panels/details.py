"""Details of the selected module: what it is, its parameters, and every call of the last run.

Everything shown comes from the plain tree node and the run's records; the
module's structure is printed from the node tree (the same text as
``repr(module)``, shortened), so the panel never touches the live model.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWidget

from inspector.core.formatting import format_number, format_shapes

if TYPE_CHECKING:
    from inspector.core.edits import Edit
    from inspector.core.probe import ProbeRun
    from inspector.core.session import Session
    from inspector.core.tree import ModuleNode
    from inspector.gui.controller import SessionController
    from inspector.gui.panels.module_tree import ModuleTreePanel

MAX_REPR_LINES = 40
MAX_CALLS_SHOWN = 64

_STYLE = """
<style>
h2 { margin: 0 0 4px 0; }
.path { color: #555; font-family: monospace; }
.note { color: #2158a8; }
.stale { color: #8a6d00; }
.error { color: #9b1c12; }
table.calls { border-collapse: collapse; margin-top: 4px; }
table.calls th { background: #eef1f5; padding: 2px 8px; text-align: left; }
table.calls td { padding: 2px 8px; border-bottom: 1px solid #e3e6ea; }
td.num { text-align: right; font-family: monospace; }
pre { background: #f6f7f9; padding: 6px; }
</style>
"""


def module_repr(node: ModuleNode, max_lines: int = MAX_REPR_LINES) -> str:
    """``repr(module)`` rebuilt from the plain tree, cut after ``max_lines`` lines."""
    lines: list[str] = []

    def emit(current: ModuleNode, indent: int, label: str | None) -> bool:
        prefix = " " * indent + (f"({label}): " if label is not None else "")
        if len(lines) >= max_lines:
            return False
        if not current.children:
            lines.append(f"{prefix}{current.type_name}({current.extra_repr})")
            return True
        lines.append(f"{prefix}{current.type_name}(")
        if current.extra_repr:
            lines.append(" " * (indent + 2) + current.extra_repr)
        for child in current.children:
            if not emit(child, indent + 2, child.name):
                return False
        lines.append(" " * indent + ")")
        return True

    complete = emit(node, 0, None)
    if not complete or len(lines) > max_lines:
        lines = lines[:max_lines] + [f"… ({sum(1 for _ in node.walk())} modules in all)"]
    return "\n".join(lines)


def details_html(
    node: ModuleNode,
    run: ProbeRun | None,
    *,
    stale: bool = False,
    original: str | None = None,
) -> str:
    """The panel's text for one module: identity, parameters, structure, and its calls in ``run``."""
    name = node.qualified_name or "(the whole model)"
    parts = [_STYLE, f"<h2>{html.escape(node.name)} <small>— {html.escape(node.type_name)}</small></h2>"]
    parts.append(f"<div class='path'>{html.escape(name)}</div>")
    if node.replaced:
        replaced = "Replaced with <b>Identity</b>: its input is passed on unchanged"
        if original:
            replaced += f"; the original was <code>{html.escape(original)}</code>"
        parts.append(f"<p class='note'>{replaced}.</p>")
    if node.aliases:
        parts.append(f"<p class='note'>The same module is also registered as "
                     f"{html.escape(', '.join(node.aliases))}.</p>")
    parts.append(
        f"<p>Parameters: <b>{node.total_params:,}</b> in all"
        f"{f', {node.own_params:,} of its own' if node.children else ''}; "
        f"{len(node.children)} child module{'s' if len(node.children) != 1 else ''}.</p>"
    )
    parts.append(_calls_html(node, run, stale))
    parts.append(f"<pre>{html.escape(module_repr(node))}</pre>")
    return "".join(parts)


def _calls_html(node: ModuleNode, run: ProbeRun | None, stale: bool) -> str:
    if run is None:
        return "<p><i>Not run yet: press Run (F5) to see shapes and statistics.</i></p>"
    parts: list[str] = []
    if stale:
        parts.append("<p class='stale'>These results are from before the latest edit; run again (F5).</p>")
    error = run.error
    if error is not None and error.module == node.qualified_name:
        parts.append(
            f"<p class='error'><b>Raised {html.escape(error.exception_type)}</b>: {html.escape(error.message)}"
            f"<br>Input shapes: {html.escape(format_shapes(error.input_shapes))}</p>"
        )
    record = run.records.get(node.qualified_name)
    if record is None or not record.calls:
        parts.append("<p><i>Did not run in the last run.</i></p>")
        return "".join(parts)
    count = len(record.calls)
    parts.append(f"<p>Ran {count} time{'s' if count != 1 else ''}"
                 f"{' (the first ' + str(MAX_CALLS_SHOWN) + ' shown)' if count > MAX_CALLS_SHOWN else ''}.</p>")
    header = ("#", "Input shapes", "Output shapes", "Time ms", "Mean", "Std", "Min", "Max", "Zero %", "NaN", "Inf")
    rows = ["<table class='calls'><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr>"]
    for number, call in enumerate(record.calls[:MAX_CALLS_SHOWN], start=1):
        stats = call.stats
        cells = [
            str(number),
            html.escape(format_shapes(call.input_shapes)),
            html.escape(format_shapes(call.output_shapes)) if call.output_shapes or stats else "—",
            f"{call.time_ms:.2f}" if call.time_ms is not None else "—",
        ]
        if stats is not None:
            cells += [
                format_number(stats.mean),
                format_number(stats.std),
                format_number(stats.min),
                format_number(stats.max),
                f"{100.0 * stats.zero_fraction:.1f}",
                str(stats.nan_count),
                str(stats.inf_count),
            ]
        else:
            cells += ["—"] * 7
        rows.append("<tr>" + "".join(
            f"<td class='num'>{c}</td>" if i == 0 or i >= 3 else f"<td>{c}</td>" for i, c in enumerate(cells)
        ) + "</tr>")
    rows.append("</table>")
    parts.append("".join(rows))
    return "".join(parts)


class DetailsPanel(QWidget):
    """Shows :func:`details_html` for the module the tree has selected."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("detailsPanel")
        self.browser = QTextBrowser(self)
        self.browser.setObjectName("detailsBrowser")
        self.browser.setOpenLinks(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.browser)
        self.clear()

    def show_module(
        self, node: ModuleNode | None, run: ProbeRun | None, *, stale: bool = False, original: str | None = None
    ) -> None:
        """Describe ``node`` (None: the hint to select one)."""
        if node is None:
            self.clear()
            return
        self.browser.setHtml(details_html(node, run, stale=stale, original=original))

    def follow(self, controller: SessionController, tree_panel: ModuleTreePanel) -> None:
        """Show the tree's current module with the run the controller shows, from now on."""
        self._controller, self._tree_panel = controller, tree_panel
        self._run: ProbeRun | None = None
        self._stale = False
        controller.sig_session_opened.connect(self._on_controller_session_opened)
        controller.sig_run_shown.connect(self._on_controller_run_shown)
        controller.sig_edited.connect(self._on_controller_edited)
        tree_panel.sig_current_changed.connect(self.show_current)

    def show_current(self, _name: object = None) -> None:
        """Show the tree's current module (nothing when none)."""
        name = self._tree_panel.current_module()
        session = self._controller.session
        node = self._tree_panel.tree_model.find(name) if name is not None else None
        if node is None or name is None or session is None:
            self.clear()
            return
        original = None
        if node.replaced:
            module = session.editor.original(name)
            original = f"{type(module).__name__}({module.extra_repr()})" if module is not None else None
        self.show_module(node, self._run, stale=self._stale, original=original)

    def _on_controller_session_opened(self, _session: Session, _tree: ModuleNode) -> None:
        self._run, self._stale = None, False
        self.clear()

    def _on_controller_run_shown(self, run: ProbeRun, _baseline: ProbeRun | None) -> None:
        self._run, self._stale = run, False
        self.show_current()

    def _on_controller_edited(self, _edit: Edit) -> None:
        self._stale = self._run is not None
        self.show_current()

    def clear(self) -> None:
        """Show the hint to select a module."""
        self.browser.setHtml("<p style='color:#777'>Select a module in the tree to see its details.</p>")

    def text(self) -> str:
        """The shown text without markup (what a person reads)."""
        return self.browser.toPlainText()
