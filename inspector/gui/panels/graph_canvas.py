"""The drawing of the Graph tab: node boxes, edge arrows, and the view that zooms, pans and fits.

:mod:`inspector.gui.panels.graph` fills a scene with these items from a laid-out
graph; what is here knows nothing of runs, workers or the window.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QContextMenuEvent,
    QFont,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPolygonF,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPolygonItem,
    QGraphicsScene,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

from inspector.core.graph import GraphNode, node_lines, shape_text
from inspector.core.graph_layout import LINE_HEIGHT, PADDING

FILL = QColor("#f7f9fc")
OP_FILL = QColor("#eef1f5")
IO_FILL = QColor("#e3ecfa")
STROKE = QColor("#8a96a8")
TEXT = QColor("#1f2933")
MUTED = QColor("#5f6b7a")
FAILED = QColor("#d62828")
FAILED_FILL = QColor("#fde2e2")
SELECTED = QColor("#2b6cb0")
MATCH = QColor("#dd8a0b")
ZOOM_STEP = 1.15
MIN_SCALE, MAX_SCALE = 0.02, 4.0
CLICK_SLOP = 4
"""A press and release closer than this many pixels is a click, not a pan."""


def scale_colour(share: float) -> QColor:
    """Pale yellow (0) through orange to deep orange (1): a sequential scale readable under dark text."""
    share = min(1.0, max(0.0, share))
    stops = ((255, 247, 212), (254, 196, 79), (236, 112, 20))
    low, high, t = (stops[0], stops[1], share * 2) if share < 0.5 else (stops[1], stops[2], share * 2 - 1)
    return QColor(*(int(a + (b - a) * t) for a, b in zip(low, high, strict=True)))


class NodeItem(QGraphicsItem):
    """One node's box: name, type, output shape."""

    def __init__(self, node: GraphNode, rect: QRectF, font: QFont, bold: QFont) -> None:
        super().__init__()
        self.node = node
        self.rect = rect
        self.font = font
        self.bold = bold
        self.lines = node_lines(node)
        self.fill: QColor | None = None
        self.selected = False
        self.matched = False
        self.setToolTip(self._tooltip())

    def _tooltip(self) -> str:
        node = self.node
        parts = [f"{node.id} ({node.type_name})", f"output {shape_text(node.output_shapes)}"]
        if node.container:
            parts.append("double-click to open")
        if node.replaced:
            parts.append("replaced with Identity: its input passes through")
        if node.error:
            parts.append(node.error)
        return "\n".join(parts)

    def boundingRect(self) -> QRectF:
        return self.rect.adjusted(-3, -3, 3, 3)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        node = self.node
        if node.failed:
            fill = FAILED_FILL
        elif self.fill is not None:
            fill = self.fill
        else:
            fill = OP_FILL if node.kind == "op" else IO_FILL if node.kind in ("input", "output") else FILL
        colour = SELECTED if self.selected else MATCH if self.matched else FAILED if node.failed else STROKE
        width = 2.5 if self.selected or self.matched or node.failed else 1.0
        pen = QPen(colour, width)
        if node.passthrough or node.replaced:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(QBrush(fill))
        radius = self.rect.height() / 2 if node.kind != "module" else 5.0
        painter.drawRoundedRect(self.rect, radius, radius)
        if node.container:  # a stacked edge: there is more inside
            painter.setPen(QPen(STROKE, 1.0))
            painter.drawLine(self.rect.bottomLeft() + QPointF(4, 3), self.rect.bottomRight() + QPointF(-4, 3))
        for row, line in enumerate(self.lines):
            painter.setFont(self.bold if row == 0 and node.kind == "module" else self.font)
            painter.setPen(FAILED if node.failed and row == len(self.lines) - 1 and node.error else
                           TEXT if row == 0 else MUTED)
            top = self.rect.top() + PADDING / 2 + row * LINE_HEIGHT
            painter.drawText(QRectF(self.rect.left() + 2, top, self.rect.width() - 4, LINE_HEIGHT),
                             Qt.AlignmentFlag.AlignCenter, line)


class EdgeItem(QGraphicsPathItem):
    """A polyline from a producer to a consumer, with an arrow head; red when its tensor went into the failing call."""

    def __init__(self, points: list[tuple[float, float]], failed: bool, tip: str) -> None:
        path = QPainterPath(QPointF(*points[0]))
        for x, y in points[1:]:
            path.lineTo(x, y)
        super().__init__(path)
        self.failed = failed
        colour = FAILED if failed else STROKE
        self.setPen(QPen(colour, 2.5 if failed else 1.2))
        self.setToolTip(tip)
        self.setZValue(-0.5 if failed else -1)
        (x0, y0), (x1, y1) = points[-2], points[-1]
        angle = math.atan2(y1 - y0, x1 - x0)
        size = 9.0 if failed else 7.0
        head = QGraphicsPolygonItem(QPolygonF([QPointF(x1, y1)] + [
            QPointF(x1 - size * math.cos(angle + turn), y1 - size * math.sin(angle + turn)) for turn in (0.38, -0.38)
        ]), self)
        head.setPen(QPen(colour, 1.0))
        head.setBrush(QBrush(colour))


class GraphCanvas(QGraphicsView):
    """Zoom with the wheel, pan by dragging, F fits; clicks, double-clicks and right-clicks name the node."""

    sig_node_clicked = Signal(str)
    """The id of the node clicked."""
    sig_node_double_clicked = Signal(str)
    """The id of the node double-clicked."""
    sig_node_context_requested = Signal(str, QPoint)
    """The id of the node right-clicked and the global position."""

    def __init__(self, scene: QGraphicsScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.setObjectName("graphCanvas")
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.BoundingRectViewportUpdate)
        self.setBackgroundBrush(QBrush(QColor("#ffffff")))
        self._pressed_at: QPoint | None = None

    def node_at(self, position: QPoint) -> str | None:
        for item in self.items(position):
            if isinstance(item, NodeItem):
                return item.node.id
        return None

    def zoom(self, factor: float) -> None:
        current = self.transform().m11()
        factor = max(MIN_SCALE / current, min(MAX_SCALE / current, factor))
        self.scale(factor, factor)

    def fit(self) -> None:
        """Show the whole graph (never magnified past its natural size)."""
        rect = self.scene().sceneRect()
        if rect.isEmpty():
            return
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.transform().m11() > 1.0:
            self.resetTransform()
            self.centerOn(rect.center())

    def show_top(self) -> None:
        """Natural size (narrowed to the view's width when wider), scrolled to the input."""
        rect = self.scene().sceneRect()
        self.resetTransform()
        width = max(self.viewport().width(), 1)
        if rect.width() > width:
            factor = max(MIN_SCALE, width / rect.width())
            self.scale(factor, factor)
        self.centerOn(rect.center().x(), rect.top() + self.viewport().height() / 2 / self.transform().m11())

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom(ZOOM_STEP ** steps)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_F and not event.modifiers():
            self.fit()
            return
        if event.key() in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom(ZOOM_STEP)
            return
        if event.key() == Qt.Key.Key_Minus:
            self.zoom(1 / ZOOM_STEP)
            return
        super().keyPressEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._pressed_at = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        pressed, self._pressed_at = self._pressed_at, None
        if event.button() != Qt.MouseButton.LeftButton or pressed is None:
            return
        position = event.position().toPoint()
        if (position - pressed).manhattanLength() <= CLICK_SLOP:
            node = self.node_at(position)
            if node is not None:
                self.sig_node_clicked.emit(node)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        node = self.node_at(event.position().toPoint())
        if node is not None:
            self.sig_node_double_clicked.emit(node)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        node = self.node_at(event.pos())
        if node is not None:
            self.sig_node_context_requested.emit(node, event.globalPos())
            event.accept()
