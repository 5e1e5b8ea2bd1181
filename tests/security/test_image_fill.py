"""``--fill image:PATH`` decodes only the formats the README names, within Pillow's pixel limit.

Every hostile file is made here under tmp_path. Ghostscript is replaced by a
script that only leaves a marker file, so the tests prove that it never
starts without ever running the real one on attacker input.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import EpsImagePlugin, Image

from inspector.cli import main
from inspector.core.errors import InputError
from inspector.core.inputs import IMAGE_FORMATS, InputSpec, load_image, make_inputs
from inspector.core.session import Session

EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\n{} loop\nshowpage\n%%EOF\n"
"""An EPS whose PostScript never ends: Ghostscript given it would loop forever."""


@pytest.fixture
def fake_ghostscript(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Pillow's Ghostscript replaced by a script that leaves a marker; the marker's path is returned."""
    marker = tmp_path / "ghostscript-ran"
    script = tmp_path / "fake-gs"
    script.write_text(f"#!/bin/sh\ntouch '{marker}'\nexit 1\n")
    script.chmod(0o755)
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", str(script))
    return marker


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _png_claiming(path: Path, width: int, height: int) -> None:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (CRC made right)."""
    Image.new("RGB", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    # Signature (8) + length (4) + b"IHDR" (4): then width, height; the CRC follows the 13 data bytes.
    start = 16
    data[start:start + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12:start + 13])) & 0xFFFFFFFF
    data[start + 13:start + 17] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))


def test_an_eps_named_png_is_refused_and_ghostscript_never_starts(tmp_path, fake_ghostscript, capsys):
    evil = tmp_path / "photo.png"
    evil.write_bytes(EPS)
    with pytest.raises(InputError, match="accepted formats: PNG, JPEG, BMP, WEBP, GIF"):
        load_image(str(evil), (1, 3, 8, 8))
    assert not fake_ghostscript.exists()
    status = main(["report", "resnet18", "--input-shape", "1,3,32,32", "--fill", f"image:{evil}",
                   "--json", str(tmp_path / "report.json")])
    assert status == 2
    line = _one_error_line(capsys)
    assert "photo.png is not an image that can be read" in line and "PNG, JPEG, BMP, WEBP, GIF" in line
    assert not fake_ghostscript.exists(), "Ghostscript was started on the file"
    assert not (tmp_path / "report.json").exists()


def test_session_runs_refuse_it_too(tmp_path, fake_ghostscript):
    """The GUI and session files make their input through the same core path as the CLI."""
    evil = tmp_path / "scan.jpg"
    evil.write_bytes(EPS)
    session = Session.open("resnet18")
    session.set_input(InputSpec((1, 3, 32, 32), fill=f"image:{evil}"))
    with pytest.raises(InputError, match="not an image"):
        session.run()
    assert not fake_ghostscript.exists()


@pytest.mark.parametrize("fmt", ["TIFF", "PPM", "ICO"])
def test_formats_outside_the_list_are_refused(tmp_path, fmt):
    path = tmp_path / f"picture.{fmt.lower()}"
    Image.new("RGB", (8, 8), (200, 10, 10)).save(path, format=fmt)
    with pytest.raises(InputError, match="accepted formats"):
        load_image(str(path), (1, 3, 8, 8))


def test_a_decompression_bomb_is_refused_with_one_line(tmp_path, capsys):
    bomb = tmp_path / "bomb.png"
    _png_claiming(bomb, 100_000, 100_000)  # 10**10 pixels: past twice Pillow's limit
    status = main(["report", "resnet18", "--input-shape", "1,3,32,32", "--fill", f"image:{bomb}",
                   "--json", str(tmp_path / "report.json")])
    assert status == 2
    line = _one_error_line(capsys)
    assert "bomb.png is refused" in line and str(Image.MAX_IMAGE_PIXELS) in line


def test_an_image_just_past_the_pixel_limit_is_refused_too(tmp_path):
    # Pillow only warns between its limit and twice it; the fill keeps the limit itself.
    big = tmp_path / "big.png"
    side = int(Image.MAX_IMAGE_PIXELS ** 0.5) + 10
    _png_claiming(big, side, side)
    with pytest.raises(InputError, match="pixel count exceeds"):
        load_image(str(big), (1, 3, 8, 8))


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.png"
    import os

    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        load_image(str(fifo), (1, 3, 8, 8))


@pytest.mark.parametrize("fmt", IMAGE_FORMATS)
def test_every_accepted_format_still_works(tmp_path, fmt):
    pixels = np.zeros((16, 24, 3), dtype=np.uint8)
    pixels[..., 0] = 255
    path = tmp_path / f"red.{fmt.lower()}"
    Image.fromarray(pixels).save(path, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    (x,) = make_inputs(InputSpec((1, 3, 16, 24), fill=f"image:{path}"))
    red = torch.tensor([(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0 - 0.406) / 0.225])
    assert torch.allclose(x[0, :, 8, 12], red, atol=0.05)


def test_a_valid_png_runs_through_the_cli(tmp_path, capsys):
    path = tmp_path / "cat.png"
    Image.fromarray(np.full((40, 40, 3), 90, dtype=np.uint8)).save(path)
    out = tmp_path / "report.json"
    status = main(["report", "resnet18", "--input-shape", "1,3,32,32", "--fill", f"image:{path}", "--json", str(out)])
    assert status == 0, capsys.readouterr().err
    assert out.exists()
