"""A layered top-to-bottom layout of a dataflow graph, and the graph drawn as SVG.

The layout comes from grandalf's Sugiyama layout (pure Python, no Graphviz
binary): each call is a box on the layer of its longest path from the input,
edges are polylines through the layers they cross. Both the window (on a
worker) and ``report --graph FILE.svg`` use :func:`layout`; :func:`svg_text`
draws it with no Qt and no Graphviz.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field

from inspector.core.errors import InspectorError
from inspector.core.formatting import format_shape
from inspector.core.graph import DataflowGraph, GraphNode, auto_depth, collapse, dot_text, json_document, node_lines

CHAR_WIDTH = 6.6
"""Width of one character of the 11 px sans-serif the boxes use (measured in the window too)."""
LINE_HEIGHT = 14.0
PADDING = 8.0
X_SPACE = 24.0
Y_SPACE = 36.0
COMPONENT_GAP = 48.0
MARGIN = 20.0
LABEL_ROOM = 90.0

Measure = Callable[[GraphNode], tuple[float, float]]
"""Width and height of a node's box."""


def box_size(node: GraphNode) -> tuple[float, float]:
    """The box a node needs for its lines of text, at :data:`CHAR_WIDTH` per character."""
    lines = node_lines(node)
    width = max(len(line) for line in lines) * CHAR_WIDTH + 2 * PADDING
    return max(width, 48.0), len(lines) * LINE_HEIGHT + PADDING


@dataclass
class NodeBox:
    """Where a node sits: its centre and size."""

    x: float
    y: float
    width: float
    height: float

    @property
    def left(self) -> float:
        return self.x - self.width / 2

    @property
    def top(self) -> float:
        return self.y - self.height / 2


@dataclass
class GraphLayout:
    """Boxes by node id and one polyline per edge (in ``graph.edges`` order), top to bottom."""

    boxes: dict[str, NodeBox]
    paths: list[list[tuple[float, float]]]
    width: float
    height: float
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


class _VertexView:
    def __init__(self, width: float, height: float) -> None:
        self.w = width
        self.h = height
        self.xy = (0.0, 0.0)


class _EdgeView:
    def __init__(self) -> None:
        self.points: list[tuple[float, float]] = []

    def setpath(self, points: list[tuple[float, float]]) -> None:
        self.points = [(float(x), float(y)) for x, y in points]


def layout(graph: DataflowGraph, measure: Measure = box_size, rounds: float = 1.5) -> GraphLayout:
    """Lay ``graph`` out top to bottom; components side by side, in the order of their first node.

    ``rounds``: grandalf's ordering passes that reduce crossings (its own
    default). They are not where a big graph's time goes: building
    grandalf's graph and its layers is (see bench/graph_speed.py).
    """
    import time

    from grandalf.graphs import Edge, Graph, Vertex
    from grandalf.layouts import SugiyamaLayout

    started = time.perf_counter()
    vertices: dict[str, Vertex] = {}
    for node_id, node in graph.nodes.items():
        vertex = Vertex(node_id)
        vertex.view = _VertexView(*measure(node))
        vertices[node_id] = vertex
    # One layout edge per pair of nodes; every tensor between them follows it.
    pairs: dict[tuple[str, str], Edge] = {}
    for edge in graph.edges:
        key = (edge.source, edge.target)
        if key in pairs or edge.source not in vertices or edge.target not in vertices or edge.source == edge.target:
            continue
        link = Edge(vertices[edge.source], vertices[edge.target])
        link.view = _EdgeView()
        pairs[key] = link
    grandalf_graph = Graph(list(vertices.values()), list(pairs.values()))
    boxes: dict[str, NodeBox] = {}
    offset = MARGIN
    height = 0.0
    order = {node_id: position for position, node_id in enumerate(graph.nodes)}
    components = sorted(grandalf_graph.C, key=lambda c: min(order[v.data] for v in c.sV))
    for component in components:
        members = list(component.sV)
        if len(members) == 1:
            view = members[0].view
            view.xy = (view.w / 2, view.h / 2)
        else:
            sugiyama = SugiyamaLayout(component)
            sugiyama.xspace = X_SPACE
            sugiyama.yspace = Y_SPACE
            roots = sorted((v for v in members if not v.e_in()), key=lambda v: order[v.data])
            sugiyama.init_all(roots=roots or None)
            sugiyama.draw(rounds)
        left = min(v.view.xy[0] - v.view.w / 2 for v in members)
        top = min(v.view.xy[1] - v.view.h / 2 for v in members)
        right = max(v.view.xy[0] + v.view.w / 2 for v in members)
        bottom = max(v.view.xy[1] + v.view.h / 2 for v in members)
        dx, dy = offset - left, MARGIN - top
        for vertex in members:
            x, y = vertex.view.xy
            boxes[vertex.data] = NodeBox(x + dx, y + dy, vertex.view.w, vertex.view.h)
        for link in component.sE:
            link.view.points = [(x + dx, y + dy) for x, y in link.view.points]
        offset += right - left + COMPONENT_GAP
        height = max(height, bottom - top)
    paths: list[list[tuple[float, float]]] = []
    for edge in graph.edges:
        link = pairs.get((edge.source, edge.target))
        if link is None:
            paths.append([])
            continue
        points = list(link.view.points)
        source, target = boxes[edge.source], boxes[edge.target]
        if len(points) < 2:
            points = [(source.x, source.y), (target.x, target.y)]
        # From the bottom of the source box to the top of the target box.
        points[0] = (points[0][0], source.y + source.height / 2)
        points[-1] = (points[-1][0], target.y - target.height / 2)
        paths.append(points)
    return GraphLayout(boxes, paths, offset - COMPONENT_GAP + MARGIN, height + 2 * MARGIN,
                       time.perf_counter() - started)


# --------------------------------------------------------------------------- SVG

FILL = "#f7f9fc"
STROKE = "#8a96a8"
OP_FILL = "#eef1f5"
IO_FILL = "#e3ecfa"
FAILED_FILL = "#fde2e2"
FAILED_STROKE = "#d62828"
TEXT = "#1f2933"
MUTED = "#5f6b7a"


def svg_text(graph: DataflowGraph, placed: GraphLayout | None = None, title: str = "") -> str:
    """The graph drawn as SVG: a box per node (name, type, output shape), arrows labelled with shapes.

    Pass-throughs (an Identity that hands its input on) are dashed; the
    failing node and the edges into it are red, its error in the node's
    tooltip (``<title>``).
    """
    placed = placed if placed is not None else layout(graph)
    top = 28.0 if title else 0.0
    # Room on the right for the shape labels beside the rightmost edges.
    width, height = max(placed.width + LABEL_ROOM, 200.0, len(title) * 7.5 + 2 * MARGIN), placed.height + top
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="Helvetica, Arial, sans-serif" font-size="11">',
        "<defs>",
        '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="{STROKE}"/></marker>',
        '<marker id="arrow-failed" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="{FAILED_STROKE}"/></marker>',
        "</defs>",
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    if title:
        out.append(f'<text x="{MARGIN}" y="18" font-size="13" fill="{TEXT}">{html.escape(title)}</text>')
    out.append(f'<g transform="translate(0,{top:.0f})">')
    drawn: set[tuple[str, str]] = set()
    for edge, points in zip(graph.edges, placed.paths, strict=True):
        key = (edge.source, edge.target)
        if not points or (key in drawn and not edge.failed):
            continue
        drawn.add(key)
        colour = FAILED_STROKE if edge.failed else STROKE
        marker = "arrow-failed" if edge.failed else "arrow"
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        width_attr = "2" if edge.failed else "1.2"
        out.append(f'<polyline class="edge" points="{path}" fill="none" stroke="{colour}" stroke-width="{width_attr}" '
                   f'marker-end="url(#{marker})"><title>{html.escape(edge.source)} → {html.escape(edge.target)}: '
                   f'{html.escape(edge.label)}</title></polyline>')
        (x0, y0), (x1, y1) = points[0], points[1]
        label_x, label_y = (x0 + x1) / 2 + 4, (y0 + y1) / 2 + 3
        out.append(f'<text class="edge-label" x="{label_x:.1f}" y="{label_y:.1f}" font-size="9" '
                   f'fill="{FAILED_STROKE if edge.failed else MUTED}">{html.escape(_shape(edge.shape))}</text>')
    for node_id, node in graph.nodes.items():
        box = placed.boxes.get(node_id)
        if box is None:
            continue
        fill = FAILED_FILL if node.failed else OP_FILL if node.kind == "op" else IO_FILL if node.kind in (
            "input", "output") else FILL
        stroke = FAILED_STROKE if node.failed else STROKE
        dash = ' stroke-dasharray="5,3"' if node.passthrough or node.replaced else ""
        radius = box.height / 2 if node.kind in ("op", "input", "output") else 5
        tip = node.error or f"{node.id} ({node.type_name})"
        out.append(f'<g class="node" id="{html.escape(_svg_id(node_id))}"><title>{html.escape(tip)}</title>')
        out.append(f'<rect x="{box.left:.1f}" y="{box.top:.1f}" width="{box.width:.1f}" height="{box.height:.1f}" '
                   f'rx="{radius:.1f}" fill="{fill}" stroke="{stroke}" stroke-width="{2 if node.failed else 1}"{dash}/>')
        for row, line in enumerate(node_lines(node)):
            y = box.top + PADDING / 2 + LINE_HEIGHT * (row + 0.75)
            weight = ' font-weight="bold"' if row == 0 and node.kind == "module" else ""
            colour = TEXT if row == 0 else MUTED
            out.append(f'<text x="{box.x:.1f}" y="{y:.1f}" text-anchor="middle" fill="{colour}"{weight}>'
                       f"{html.escape(line)}</text>")
        out.append("</g>")
    out.append("</g></svg>")
    return "\n".join(out) + "\n"


def _shape(shape: list[int]) -> str:
    return format_shape(shape)


def _svg_id(node_id: str) -> str:
    return "node-" + "".join(c if c.isalnum() or c in "-_." else "_" for c in node_id)


# --------------------------------------------------------------------------- files

GRAPH_FORMATS = (".svg", ".dot", ".json")


class GraphFileError(InspectorError):
    """A graph file name whose form is not known."""


def graph_format(path: str) -> str:
    """``.svg``, ``.dot`` or ``.json`` from the file name; anything else is refused with the choices."""
    import os

    suffix = os.path.splitext(path)[1].lower()
    if suffix not in GRAPH_FORMATS:
        raise GraphFileError(f"--graph {path}: the file name must end in .svg, .dot or .json (the form to write)")
    return suffix


def graph_file_text(graph: DataflowGraph, path: str, title: str = "") -> str:
    """The text of ``path`` for ``graph``: JSON and DOT hold the whole graph (containers nest their children);
    the SVG is drawn at the deepest depth with at most 150 nodes."""
    suffix = graph_format(path)
    if suffix == ".json":
        from inspector.core.report import dumps

        return dumps(json_document(graph))
    if suffix == ".dot":
        return dot_text(graph)
    return svg_text(collapse(graph, auto_depth(graph)), title=title)
