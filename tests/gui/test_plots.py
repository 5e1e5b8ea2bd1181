"""The plots panel over real resnet18 runs: points, clicks, selection, baseline, PNG and CSV."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QImage

from inspector.core.errors import InspectorError
from inspector.core.session import Session
from inspector.gui.panels.plots import PlotsPanel


@pytest.fixture(scope="module")
def resnet_runs():
    """resnet18's plain run, its run with layer3.1 replaced by Identity, and its failing run with layer2 replaced."""
    session = Session.open("resnet18")
    plain = session.run()
    session.replace_with_identity("layer3.1")
    edited = session.run()
    session.restore_all()
    session.replace_with_identity("layer2")
    failed = session.run()
    session.restore_all()
    return plain, edited, failed


@pytest.fixture
def panel(qtbot):
    widget = PlotsPanel()
    qtbot.addWidget(widget)
    widget.resize(1000, 600)
    return widget


def shown_points(panel: PlotsPanel) -> tuple[np.ndarray, np.ndarray]:
    """Every point of the Shapes plot, in x order: (execution position, elements)."""
    xs, ys = [], []
    for item in panel.depth_points:
        x, y = item.getOriginalDataset()
        if x is not None:
            xs.append(x)
            ys.append(y)
    x, y = np.concatenate(xs), np.concatenate(ys)
    order = np.argsort(x)
    return x[order], y[order]


def point_count(item) -> int:
    """How many points a plot item holds (an emptied item holds None)."""
    x, _ = item.getOriginalDataset()
    return 0 if x is None else len(x)


def click_at(qtbot, widget, plot, view_x: float, view_y: float) -> None:
    """A real left click where the view point (x, y) is drawn, once the plot has drawn it."""

    def on_screen() -> None:
        (x0, x1), (y0, y1) = plot.vb.viewRange()
        assert x0 < view_x < x1 and y0 < view_y < y1

    # The view fits its range to the data when it first paints.
    qtbot.waitUntil(on_screen, timeout=2000)
    scene_point = plot.vb.mapViewToScene(QPointF(view_x, view_y))
    qtbot.mouseClick(widget.viewport(), Qt.MouseButton.LeftButton, pos=widget.mapFromScene(scene_point))


def test_empty_panel_shows_a_hint_not_axes(panel):
    assert not panel.shapes_page.showing_plot
    assert not panel.activations_page.showing_plot
    assert not panel.histogram_page.showing_plot
    assert "Run the model" in panel.shapes_page.hint.text()


def test_one_point_per_executed_module(panel, resnet_runs):
    plain, _, _ = resnet_runs
    panel.set_runs(plain, None)
    assert panel.shapes_page.showing_plot and panel.activations_page.showing_plot
    order = plain.execution_order()
    x, y = shown_points(panel)
    assert x.tolist() == list(range(len(order)))
    for position, name in enumerate(order):
        shapes = plain.records[name].calls[0].output_shapes
        assert y[position] == sum(math.prod(s) for s in shapes)
    # resnet18's shape flow: conv1 [1, 64, 112, 112], fc [1, 1000].
    assert y[order.index("conv1")] == 64 * 112 * 112
    assert y[order.index("fc")] == 1000
    mean_x, mean_y = panel.mean_curve.getOriginalDataset()
    assert len(mean_x) == len(order)
    assert mean_y[order.index("relu")] == plain.records["relu"].calls[0].stats.mean
    assert point_count(panel.base_numel) == 0


def test_clicking_a_point_emits_its_module(qtbot, panel, resnet_runs):
    plain, _, _ = resnet_runs
    panel.set_runs(plain, None)
    panel.show()
    qtbot.waitExposed(panel)
    order = plain.execution_order()
    name = "layer2.0.conv1"
    position = order.index(name)
    numel = 128 * 28 * 28
    with qtbot.waitSignal(panel.sig_module_clicked, timeout=2000) as blocker:
        # The Shapes y axis is logarithmic: the view holds log10 of the size.
        click_at(qtbot, panel.shapes_widget, panel.shapes_plot, position, math.log10(numel))
    assert blocker.args == [name]

    panel.tabs.setCurrentWidget(panel.activations_page)
    qtbot.waitExposed(panel.activations_widget)
    other = "layer4.1.bn2"
    mean = plain.records[other].calls[0].stats.mean
    with qtbot.waitSignal(panel.sig_module_clicked, timeout=2000) as blocker:
        click_at(qtbot, panel.activations_widget, panel.activations_plot, order.index(other), mean)
    assert blocker.args == [other]


def test_select_module_shows_its_histogram_and_moves_one_marker(qtbot, panel, resnet_runs):
    plain, _, _ = resnet_runs
    panel.set_runs(plain, None)
    panel.select_module("layer1.0.relu")
    assert panel.selected == "layer1.0.relu"
    assert panel.histogram_page.showing_plot
    first = plain.records["layer1.0.relu"].calls[0]
    edges, counts = panel.histogram_curve.getOriginalDataset()
    assert len(edges) == len(counts) + 1
    assert counts.sum() == first.histogram.sample_size
    assert edges[0] == pytest.approx(first.stats.min) and edges[-1] == pytest.approx(first.stats.max)
    assert "sample" in panel.histogram_plot.titleLabel.text
    position = plain.execution_order().index("layer1.0.relu")
    for line in (panel.shapes_selection, panel.activations_selection, panel.zeros_selection):
        assert line.isVisible() and line.value() == position
    ring_x, _ = panel.shapes_ring.getOriginalDataset()
    assert ring_x.tolist() == [position]

    # A burst of selections ends on the last one.
    for name in ("conv1", "bn1", "layer1", "layer4.1.conv2"):
        panel.select_module(name)
    qtbot.waitUntil(lambda: panel.selected == "layer4.1.conv2", timeout=2000)
    assert panel.shapes_selection.value() == plain.execution_order().index("layer4.1.conv2")

    panel.select_module(None)
    qtbot.waitUntil(lambda: panel.selected is None, timeout=2000)
    assert not panel.shapes_selection.isVisible()
    assert not panel.histogram_page.showing_plot


def test_small_output_histogram_is_not_sampled(panel, resnet_runs):
    plain, _, _ = resnet_runs
    panel.set_runs(plain, None)
    panel.select_module("fc")
    histogram = plain.records["fc"].calls[0].histogram
    assert not histogram.sampled
    assert panel.histogram_curve.getOriginalDataset()[1].sum() == 1000
    assert "all 1,000 finite values" in panel.histogram_plot.titleLabel.text


def test_baseline_drawn_behind_after_an_edit(panel, resnet_runs):
    plain, edited, _ = resnet_runs
    panel.set_runs(edited, plain)
    bx, by = panel.base_numel.getOriginalDataset()
    assert len(bx) == len(plain.execution_order())
    current = edited.execution_order()
    before = plain.execution_order()
    # Shared modules sit at their current x, so before/after line up layer by layer.
    for name in ("conv1", "layer3.1", "fc"):
        assert bx[before.index(name)] == current.index(name)
    assert len(panel.base_mean.getOriginalDataset()[0]) == len(before)
    assert any(label.text.startswith("before edits") for _, label in panel.shapes_legend.items)
    panel.select_module("layer1.0.conv1")
    base_edges, base_counts = panel.base_histogram.getOriginalDataset()
    assert base_counts.sum() == plain.records["layer1.0.conv1"].calls[0].histogram.sample_size

    panel.set_runs(plain, None)
    assert point_count(panel.base_numel) == 0 and point_count(panel.base_mean) == 0
    assert not any(label.text.startswith("before edits") for _, label in panel.shapes_legend.items)


def test_a_failed_run_marks_the_module_that_raised(panel, resnet_runs):
    plain, _, failed = resnet_runs
    assert failed.error is not None and failed.error.module == "layer3.0.conv1"
    panel.set_runs(failed, plain)
    position = failed.execution_order().index("layer3.0.conv1")
    assert panel.shapes_error.isVisible() and panel.shapes_error.value() == position
    assert panel.activations_error.isVisible()
    assert "failed in layer3.0.conv1" in panel.shapes_plot.titleLabel.text
    panel.select_module("layer3.0.conv1")
    assert not panel.histogram_page.showing_plot
    panel.set_runs(plain, None)
    assert not panel.shapes_error.isVisible()


def test_a_meta_run_shows_shapes_and_says_why_there_are_no_statistics(panel):
    session = Session.open("resnet18")
    meta = session.run(meta=True)
    panel.set_runs(meta, None)
    assert panel.shapes_page.showing_plot
    assert len(shown_points(panel)[0]) == len(meta.execution_order())
    assert not panel.activations_page.showing_plot
    assert "No activation statistics" in panel.activations_page.hint.text()


def test_clear_returns_to_the_hint(panel, resnet_runs):
    plain, _, _ = resnet_runs
    panel.set_runs(plain, None)
    panel.select_module("fc")
    panel.clear()
    assert panel.run is None and panel.selected is None
    assert not panel.shapes_page.showing_plot and not panel.histogram_page.showing_plot


def test_save_png_writes_the_current_plot(qtbot, panel, resnet_runs, tmp_path):
    plain, _, _ = resnet_runs
    with pytest.raises(InspectorError, match="run the model"):
        panel.save_png(str(tmp_path / "empty.png"))
    panel.set_runs(plain, None)
    panel.show()
    qtbot.waitExposed(panel)
    for index in range(2):
        panel.tabs.setCurrentIndex(index)
        path = tmp_path / f"tab{index}.png"
        panel.save_png(str(path))
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        image = QImage(str(path))
        assert image.width() > 100 and image.height() > 100
        # Not a blank canvas: a plot has many colours.
        assert len({image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}) > 5
    with pytest.raises(InspectorError, match="writable"):
        panel.save_png(str(tmp_path / "missing" / "folder" / "x.png"))


def test_export_csv_rows_match_the_run(panel, resnet_runs, tmp_path):
    plain, _, _ = resnet_runs
    with pytest.raises(InspectorError, match="run the model"):
        panel.export_csv(str(tmp_path / "none.csv"))
    panel.set_runs(plain, None)
    path = tmp_path / "stats.csv"
    panel.export_csv(str(path))
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["name"] for r in rows] == plain.execution_order()
    for row in rows:
        first = plain.records[row["name"]].calls[0]
        assert float(row["mean"]) == first.stats.mean
        assert float(row["zero_fraction"]) == first.stats.zero_fraction
        assert int(row["numel"]) == first.stats.numel
    fc = rows[-1]
    assert fc["name"] == "fc" and fc["output_shapes"] == "[[1, 1000]]"
    with pytest.raises(InspectorError, match="Could not write the CSV"):
        panel.export_csv(str(tmp_path / "missing" / "stats.csv"))


def test_png_and_csv_are_written_through_a_symlink(qtbot, panel, resnet_runs, tmp_path):
    """The link a user saves to stays a link; its target gets the file (as a shell redirection would)."""
    plain, _, _ = resnet_runs
    panel.set_runs(plain, None)
    panel.show()
    qtbot.waitExposed(panel)
    for name, save in (("plot.png", panel.save_png), ("stats.csv", panel.export_csv)):
        real = tmp_path / f"real-{name}"
        link = tmp_path / name
        link.symlink_to(real)
        save(str(link))
        assert link.is_symlink() and real.stat().st_size > 0
    assert (tmp_path / "real-plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "real-stats.csv").read_text().startswith("name,")


def test_hovering_a_column_names_its_module(qtbot, panel, resnet_runs):
    plain, _, _ = resnet_runs
    panel.set_runs(plain, None)
    panel.show()
    qtbot.waitExposed(panel)
    order = plain.execution_order()
    position = order.index("layer3.0.downsample.0")
    plot = panel.shapes_plot

    def on_screen() -> None:
        (x0, x1), _ = plot.vb.viewRange()
        assert x0 < position < x1

    qtbot.waitUntil(on_screen, timeout=2000)
    (_, _), (y0, y1) = plot.vb.viewRange()
    scene_point = plot.vb.mapViewToScene(QPointF(position, (y0 + y1) / 2))
    qtbot.mouseMove(panel.shapes_widget.viewport(), panel.shapes_widget.mapFromScene(scene_point))
    qtbot.waitUntil(lambda: "layer3.0.downsample.0" in panel.readout.text(), timeout=2000)
    assert "[1, 256, 14, 14]" in panel.readout.text()


def test_legend_entry_of_the_band_hides_the_band(qtbot, panel, resnet_runs):
    plain, _, _ = resnet_runs
    panel.set_runs(plain, None)
    panel.tabs.setCurrentWidget(panel.activations_page)
    panel.show()
    qtbot.waitExposed(panel.activations_widget)
    sample = next(s for s, label in panel.activations_legend.items if label.text == "± std")
    widget = panel.activations_widget

    def click_sample() -> None:
        centre = sample.mapToScene(sample.boundingRect().center())
        qtbot.mouseClick(widget.viewport(), Qt.MouseButton.LeftButton, pos=widget.mapFromScene(centre))

    qtbot.waitUntil(lambda: sample.scenePos().y() > 100, timeout=2000)  # laid out under the plots
    click_sample()
    qtbot.waitUntil(lambda: not panel.std_band.isVisible(), timeout=2000)
    qtbot.wait(600)  # two clicks in a row would read as a double click
    click_sample()
    qtbot.waitUntil(panel.std_band.isVisible, timeout=2000)
