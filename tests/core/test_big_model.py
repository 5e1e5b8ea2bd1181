"""Bigger than memory: a checkpoint loaded into a model accelerate dispatches over the CPU and a disk folder.

Small models (a few hundred KiB) under budgets of a few KiB, so that most of
each model really is offloaded; every number is checked against the same
weights run in memory.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from inspector.core import dispatch as dispatch_mod
from inspector.core.dispatch import parse_max_memory, parse_size
from inspector.core.errors import ArchitectureRequired, DeviceError, ModelLoadError
from inspector.core.inputs import InputSpec
from inspector.core.session import Session
from inspector.core.sources import MissingExtra
from tests.helpers import write_checkpoint

pytest.importorskip("accelerate")
safetensors_torch = pytest.importorskip("safetensors.torch")

WIDTH = 64
DEPTH = 8
LAYER_BYTES = (WIDTH * WIDTH + WIDTH) * 4
BUDGET = 3 * LAYER_BYTES  # a few layers stay in memory, the rest go to disk

FACTORY = f"""
import torch
from torch import nn


def deep_mlp():
    torch.manual_seed(0)
    blocks = [nn.Sequential(nn.Linear({WIDTH}, {WIDTH}), nn.LayerNorm({WIDTH}), nn.GELU()) for _ in range({DEPTH})]
    return nn.Sequential(*blocks, nn.Linear({WIDTH}, 10))
"""


@pytest.fixture
def checkpoint(tmp_path: Path) -> tuple[str, str, nn.Module]:
    """(safetensors file, --arch callable, the model in memory) for a deep MLP of a few hundred KiB."""
    return write_checkpoint(tmp_path, FACTORY)


pytestmark = pytest.mark.usefixtures("own_temp")


def _session(path: str, arch: str, **options: object) -> Session:
    session = Session.open(path, arch=arch, **options)
    session.set_input(InputSpec((4, WIDTH), seed=3))
    return session


def _stats(run: object) -> dict[str, object]:
    return {
        name: (record.first.output_shapes, record.first.stats.as_dict() if record.first.stats else None)
        for name, record in run.records.items()  # type: ignore[attr-defined]
        if record.first is not None
    }


def _resident_bytes(model: nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters() if not p.is_meta)


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("text", "size"),
    [("200MiB", 200 * 2**20), ("2GiB", 2 * 2**30), ("1.5GB", 1_500_000_000), ("500MB", 500_000_000),
     ("64KiB", 65536), ("1024", 1024), ("3 mib", 3 * 2**20)],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MiB", "12 parsecs", "-3GiB", "0MiB"])
def test_bad_sizes_say_what_is_expected(text: str) -> None:
    with pytest.raises(DeviceError, match="MiB"):
        parse_size(text)


def test_max_memory() -> None:
    assert parse_max_memory("cpu=2GiB") == {"cpu": 2 * 2**30}
    assert parse_max_memory(None) == {}
    with pytest.raises(DeviceError, match="DEVICE=SIZE"):
        parse_max_memory("cpu")
    with pytest.raises(DeviceError, match="twice"):
        parse_max_memory("cpu=1GiB,cpu=2GiB")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="not a device of this machine"):
            parse_max_memory("cuda:0=1GiB")


# --------------------------------------------------------------------------- loading and running


def test_offloaded_run_equals_the_run_in_memory(checkpoint: tuple[str, str, nn.Module], own_temp: Path) -> None:
    path, arch, _ = checkpoint
    in_memory = _session(path, arch)
    big = _session(path, arch, dispatched=True, max_memory={"cpu": BUDGET})
    info = big.dispatch
    assert info is not None and big.on_meta is False
    placements = {big.dispatch.placement_of(name) for name, _ in big.model.named_modules() if name}
    assert "disk" in placements and "cpu" in placements
    assert info.bytes_by_placement["disk"] > info.bytes_by_placement["cpu"]
    # What stays in memory is within the budget; the rest is in the offload folder.
    assert _resident_bytes(big.model) <= BUDGET
    assert os.path.exists(os.path.join(str(info.offload_dir), "index.json"))

    # Largest resident weight seen while the model runs: the budget plus the one offloaded layer being run.
    peak = [0]
    handles = [m.register_forward_hook(lambda *_: peak.__setitem__(0, max(peak[0], _resident_bytes(big.model))))
               for m in big.model.modules()]
    expected, got = in_memory.run(keep_output=True), big.run(keep_output=True)
    for handle in handles:
        handle.remove()
    assert got.ok
    assert _stats(got) == _stats(expected)  # every module's shapes and statistics, bit for bit
    assert torch.equal(got.output, expected.output)
    assert set(got.records) == set(expected.records)
    assert peak[0] <= BUDGET + LAYER_BYTES
    assert _resident_bytes(big.model) <= BUDGET  # offloaded weights dropped again

    folder = info.offload_dir
    assert folder is not None and folder.startswith(str(own_temp))
    big.close()
    assert not os.path.exists(folder)
    assert not [name for name in os.listdir(own_temp) if name.startswith("inspector-offload")]


def test_identity_on_an_offloaded_layer_and_undo(checkpoint: tuple[str, str, nn.Module]) -> None:
    path, arch, model = checkpoint
    big = _session(path, arch, dispatched=True, max_memory={"cpu": BUDGET})
    disk = next(name for name, _ in big.model.named_children() if big.dispatch.placement_of(name) == "disk")
    before = big.run(keep_output=True)
    edit = big.replace_with_identity(disk)
    edited = big.run(keep_output=True)
    assert edited.ok
    # As deleting the block from the model in memory.
    del model[int(disk)]
    with torch.no_grad():
        assert torch.equal(edited.output, model(big.make_call()[0][0]))
    big.revert(edit)  # undo
    again = big.run(keep_output=True)
    assert _stats(again) == _stats(before) and torch.equal(again.output, before.output)
    assert not big.replaced
    big.close()


def test_a_folder_named_by_the_user_is_kept(checkpoint: tuple[str, str, nn.Module], tmp_path: Path) -> None:
    path, arch, _ = checkpoint
    folder = tmp_path / "offload"
    big = _session(path, arch, dispatched=True, max_memory={"cpu": BUDGET}, offload_dir=str(folder))
    assert big.run().ok
    big.close()
    assert (folder / "index.json").exists() and any(name.endswith(".dat") for name in os.listdir(folder))
    assert big.dispatch.summary()["offload_dir"] == str(folder)


def test_a_state_dict_file_with_a_wrapper_and_a_prefix(checkpoint: tuple[str, str, nn.Module], tmp_path: Path) -> None:
    path, arch, model = checkpoint
    file = tmp_path / "ckpt.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}, "epoch": 3}, file)
    in_memory = _session(path, arch)
    big = _session(str(file), arch, dispatched=True, max_memory={"cpu": BUDGET})
    assert any("'module.'" in note for note in big.loaded.notes)
    assert _stats(big.run()) == _stats(in_memory.run())
    big.close()


def test_everything_fits_then_nothing_goes_to_disk(checkpoint: tuple[str, str, nn.Module]) -> None:
    path, arch, _ = checkpoint
    big = _session(path, arch, dispatched=True, max_memory={"cpu": 2**30})
    assert set(big.dispatch.device_map.values()) == {"cpu"}
    assert "disk" not in big.dispatch.bytes_by_placement
    assert big.run().ok
    big.close()


def test_refusals_name_what_to_do(checkpoint: tuple[str, str, nn.Module], tmp_path: Path) -> None:
    path, arch, _ = checkpoint
    with pytest.raises(ArchitectureRequired, match="--arch"):
        Session.open(path, dispatched=True)
    with pytest.raises(ModelLoadError, match="checkpoint"):
        Session.open("resnet18", dispatched=True)
    wrong = tmp_path / "wrong.safetensors"
    safetensors_torch.save_file({"0.0.weight": torch.zeros(3, 3)}, str(wrong))
    with pytest.raises(ModelLoadError, match="missing .* keys"):
        Session.open(str(wrong), arch=arch, dispatched=True)


def test_without_accelerate_the_extra_is_named(checkpoint: tuple[str, str, nn.Module],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path, arch, _ = checkpoint
    monkeypatch.setitem(sys.modules, "accelerate", None)  # what an interpreter without it sees: ImportError
    with pytest.raises(MissingExtra, match=r"pip install 'model-inspector\[big\]'"):
        Session.open(path, arch=arch, dispatched=True)


def test_a_model_that_cannot_fit_is_refused_with_the_numbers(checkpoint: tuple[str, str, nn.Module],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    path, arch, _ = checkpoint
    # As if the machine had almost no memory free: the file is refused before it is read.
    monkeypatch.setattr(dispatch_mod, "FIT_SHARE", 1e-9)
    with pytest.raises(DeviceError, match=r"needs \d.* KiB of weights and cpu has .* free; use --device auto --max-memory cpu="):
        Session.open(path, arch=arch)


# --------------------------------------------------------------------------- a Hugging Face folder


@pytest.fixture
def gpt2_folder(tmp_path: Path) -> tuple[str, nn.Module]:
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(n_layer=3, n_embd=32, n_head=4, vocab_size=128, n_positions=32,
                                     bos_token_id=0, eos_token_id=0)
    torch.manual_seed(0)
    model = transformers.GPT2Model(config).eval()
    folder = tmp_path / "gpt2"
    model.save_pretrained(str(folder))
    return str(folder), model


def test_hf_folder_dispatched_and_a_block_removed_as_deleting_it(gpt2_folder: tuple[str, nn.Module]) -> None:
    folder, model = gpt2_folder
    in_memory = Session.open(f"hf:{folder}")
    big = Session.open(f"hf:{folder}", dispatched=True, max_memory={"cpu": 20_000})
    assert big.dispatch.placement_of("h.1") == "disk"
    assert _stats(big.run()) == _stats(in_memory.run())

    edit = big.replace_with_identity("h.1")
    removed = big.run(keep_output=True)
    assert removed.ok
    del model.h[1]
    args, kwargs = big.make_call()
    with torch.no_grad():
        deleted = model(*args, **kwargs)
    assert torch.equal(removed.output.last_hidden_state, deleted.last_hidden_state)
    big.revert(edit)  # undo
    assert _stats(big.run()) == _stats(in_memory.run())
    big.close()


def _mapped_bytes(path: str) -> int:
    """Resident bytes of this process's mappings of the file at ``path`` (Linux's /proc/self/smaps)."""
    total, current = 0, None
    with open("/proc/self/smaps", encoding="utf-8") as smaps:
        for line in smaps:
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5 and fields[0][0] in "0123456789abcdef" and ":" in fields[3]:
                current = fields[5] if len(fields) > 5 else None
            elif fields[0] == "Rss:" and current == path:
                total += int(fields[1]) * 1024
    return total


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="reads Linux's /proc/self/smaps")
def test_the_checkpoint_file_is_not_left_resident(checkpoint: tuple[str, str, nn.Module]) -> None:
    path, arch, _ = checkpoint
    big = _session(path, arch, dispatched=True, max_memory={"cpu": BUDGET})
    assert big.run().ok
    # Nothing of the file stays mapped: the weights kept in memory were copied out, the rest is on disk.
    assert _mapped_bytes(os.path.realpath(path)) == 0
    big.close()


FREED_SCRIPT = """
import json, sys
import torch
from torch import nn
from safetensors.torch import save_file
from inspector.core import dispatch
from inspector.core.inputs import InputSpec
from inspector.core.session import Session

def anon():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024

folder = sys.argv[1]
open(folder + "/wide.py", "w").write(
    "from torch import nn\\ndef wide():\\n    return nn.Sequential(*[nn.Linear(2048, 2048) for _ in range(6)])\\n")
save_file(nn.Sequential(*[nn.Linear(2048, 2048) for _ in range(6)]).state_dict(), folder + "/wide.safetensors")
if sys.argv[2] == "off":
    dispatch._give_back_freed_blocks = lambda: None
session = Session.open(folder + "/wide.safetensors", arch=folder + "/wide.py:wide", dispatched=True,
                       max_memory={"cpu": 17 * 2**20})
session.set_input(InputSpec((2, 2048)))
before = anon()
for _ in range(3):
    assert session.run().ok
print(json.dumps({"grew": anon() - before, "disk": session.dispatch.bytes_by_placement["disk"]}))
session.close()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or not os.path.exists("/proc/self/status"),
                    reason="glibc's heap, measured through /proc")
def test_offloaded_weights_are_given_back_after_each_run(tmp_path: Path) -> None:
    import json

    from tests.helpers import run_subprocess

    # Its own process: the setting is for the whole process, and the heap must start clean.
    done = run_subprocess(["-c", FREED_SCRIPT, str(tmp_path), "on"])
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # 16 MB layers: big enough for glibc to have kept every freed one in its heap (100 MB after three runs).
    assert result["disk"] >= 4 * 16 * 2**20
    # The weights read in for each offloaded layer are gone again: less than one layer stays.
    assert result["grew"] < 16 * 2**20, result
