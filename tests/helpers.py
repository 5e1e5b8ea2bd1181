"""What the core and CLI tests share: a model snapshot to prove looking changed nothing, and CLI runners."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

_HOOK_DICTS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_pre_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_state_dict_hooks",
    "_load_state_dict_pre_hooks",
)


@dataclass
class ModelSnapshot:
    """Everything about a model that looking at it must leave exactly as it was."""

    modules: list[tuple[str, int]]
    hooks: dict[str, dict[str, list[int]]]
    training: dict[str, bool]
    attributes: dict[str, list[str]]
    tensors: list[tuple[str, int, torch.Tensor, torch.device, torch.dtype, bool]]
    global_hooks: list[int]


def _global_hook_counts() -> list[int]:
    from torch.nn.modules import module as module_mod

    names = (
        "_global_forward_hooks",
        "_global_forward_pre_hooks",
        "_global_backward_hooks",
        "_global_backward_pre_hooks",
        "_global_forward_hooks_always_called",
    )
    return [len(getattr(module_mod, n, {})) for n in names]


def snapshot(model: nn.Module) -> ModelSnapshot:
    """Record the model's modules, hooks, flags, attribute names and every tensor (cloned)."""
    named = list(model.named_modules(remove_duplicate=False))
    tensors = []
    for kind, items in (
        ("param", model.named_parameters(remove_duplicate=False)),
        ("buffer", model.named_buffers(remove_duplicate=False)),
    ):
        for name, tensor in items:
            tensors.append(
                (
                    f"{kind}:{name}",
                    id(tensor),
                    tensor.detach().clone(),
                    tensor.device,
                    tensor.dtype,
                    tensor.requires_grad,
                )
            )
    return ModelSnapshot(
        modules=[(n, id(m)) for n, m in named],
        hooks={n: {h: list(getattr(m, h, {}).keys()) for h in _HOOK_DICTS} for n, m in named},
        training={n: m.training for n, m in named},
        attributes={n: sorted(vars(m)) for n, m in named},
        tensors=tensors,
        global_hooks=_global_hook_counts(),
    )


def assert_unchanged(model: nn.Module, before: ModelSnapshot) -> None:
    """Fail with the first difference between the model now and ``before``."""
    after = snapshot(model)
    assert after.modules == before.modules, "the set of module objects changed"
    for name, hooks in before.hooks.items():
        assert after.hooks[name] == hooks, f"hooks of {name or '(root)'} changed: {hooks} -> {after.hooks[name]}"
    assert after.global_hooks == before.global_hooks, "a global module hook was left behind"
    assert after.training == before.training, "a module's train/eval flag changed"
    assert after.attributes == before.attributes, "a module gained or lost an attribute"
    assert len(after.tensors) == len(before.tensors)
    for old, new in zip(before.tensors, after.tensors, strict=True):
        name = old[0]
        assert new[0] == name
        assert new[1] == old[1], f"{name} is not the same tensor object any more"
        assert new[3] == old[3], f"{name} moved from {old[3]} to {new[3]}"
        assert new[4] == old[4], f"{name} changed dtype from {old[4]} to {new[4]}"
        assert new[5] == old[5], f"{name} changed requires_grad"
        if old[2].is_meta:
            assert new[2].is_meta
        else:
            assert torch.equal(new[2], old[2]), f"{name} changed value"


# --------------------------------------------------------------------------- CLI


def run_main(argv: list[str], capsys: Any) -> tuple[int, str, str]:
    """``inspector.cli.main(argv)`` in this process: (exit status, stdout, stderr)."""
    from inspector.cli import main

    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def run_report(argv: list[str], capsys: Any) -> tuple[int, dict[str, Any] | None, str]:
    """``report`` in this process; the parsed JSON report (strictly: no NaN) or None, and stderr."""
    code, out, err = run_main(["report", *argv], capsys)
    return code, (strict_json(out) if out.strip() else None), err


def strict_json(text: str) -> Any:
    """Parse JSON, refusing the NaN/Infinity literals that Python's json would accept."""

    def refuse(literal: str) -> Any:
        raise ValueError(f"{literal} in the JSON")

    return json.loads(text, parse_constant=refuse)


def run_subprocess(
    args: list[str], *, cwd: Path | str = ROOT, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGS`` in a fresh interpreter with the test's environment, plus ``env``."""
    env = dict(os.environ, **(env or {}))
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [PYTHON, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def assert_one_line_error(err: str) -> str:
    """The stderr of a usage error: exactly one line, no traceback; returns it."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert "Traceback" not in err
    return lines[0]


def trace(model: Any, example: Any) -> Any:
    """``torch.jit.trace`` without its deprecation warning (TorchScript files are still what users have)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.trace(model, example)


class EditHistory:
    """Undo and redo over an editor's Edits, as the window's QUndoStack keeps them (the core keeps no history)."""

    def __init__(self, editor: Any) -> None:
        self.editor = editor
        self.done: list[Any] = []
        self.undone: list[Any] = []

    def _made(self, edit: Any) -> Any:
        self.done.append(edit)
        self.undone.clear()
        return edit

    def replace_with_identity(self, path: str) -> Any:
        return self._made(self.editor.replace_with_identity(path))

    def restore(self, path: str) -> Any:
        return self._made(self.editor.restore(path))

    def restore_all(self) -> Any:
        return self._made(self.editor.restore_all())

    def undo(self) -> Any:
        from inspector.core.errors import EditError

        if not self.done:
            raise EditError("nothing to undo")
        edit = self.done[-1]
        self.editor.revert(edit)
        self.undone.append(self.done.pop())
        return edit

    def redo(self) -> Any:
        from inspector.core.errors import EditError

        if not self.undone:
            raise EditError("nothing to redo")
        edit = self.undone[-1]
        self.editor.apply(edit)
        self.done.append(self.undone.pop())
        return edit

    @property
    def replaced(self) -> list[str]:
        return list(self.editor.replaced)

    def original(self, path: str) -> Any:
        return self.editor.original(path)

    @property
    def can_undo(self) -> bool:
        return bool(self.done)

    @property
    def can_redo(self) -> bool:
        return bool(self.undone)

    @property
    def undo_text(self) -> str | None:
        return self.done[-1].text if self.done else None

    @property
    def redo_text(self) -> str | None:
        return self.undone[-1].text if self.undone else None

    @property
    def history(self) -> list[str]:
        return [edit.text for edit in self.done]


def write_checkpoint(folder: Path, factory_text: str) -> tuple[str, str, Any]:
    """(a safetensors file, the ``--arch`` callable that builds it, the model in memory) from a factory file's text.

    The factory file ``factory.py`` defines ``deep_mlp()``; the checkpoint holds its state_dict.
    """
    from safetensors.torch import save_file

    factory = folder / "factory.py"
    factory.write_text(factory_text)
    namespace: dict[str, Any] = {}
    exec(factory_text, namespace)
    model = namespace["deep_mlp"]()
    path = folder / "mlp.safetensors"
    save_file(model.state_dict(), str(path))
    return str(path), f"{factory}:deep_mlp", model.eval()
