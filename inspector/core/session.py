"""The one object that owns a model while it is being inspected.

The GUI and the command line both talk to a :class:`Session`: it holds the
live model, its edits, the sample input, the device and mode, and the runs
made so far. Nothing else keeps a reference to the model, so nothing can go
stale after an edit or a move to another device.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from inspector.core import probe, shapes
from inspector.core.devices import resolve_device
from inspector.core.edits import Edit, ModelEditor
from inspector.core.errors import InputError
from inspector.core.inputs import InputSpec, make_inputs, natural_input
from inspector.core.loading import LoadedModel, load_model
from inspector.core.summary import summary_text
from inspector.core.tree import ModuleNode, build_tree, check_structure, count_params


class Session:
    """A loaded model with its edits, input, device, mode and runs."""

    def __init__(self, loaded: LoadedModel) -> None:
        # Before anything walks the model: a cycle is refused, deep nesting gets room.
        check_structure(loaded.module)
        self.loaded = loaded
        self.editor = ModelEditor(loaded.module, read_only=loaded.read_only)
        self.input_spec: InputSpec | None = natural_input(loaded.module, loaded.arch, loaded.task)
        self.device = torch.device("cpu")
        self.mode = "eval"
        self.last_run: probe.ProbeRun | None = None
        self.baseline_run: probe.ProbeRun | None = None
        """The latest run of the model with no edits in place, for before/after views."""
        self.params = count_params(loaded.module)
        self.trainable_params = sum(p.numel() for p in loaded.module.parameters() if p.requires_grad)
        self.module_count = sum(1 for _ in loaded.module.named_modules())

    @classmethod
    def open(cls, spec: str, **options: Any) -> Session:
        """Load a model from any MODEL form (see :func:`inspector.core.loading.load_model`)."""
        return cls(load_model(spec, **options))

    # ----------------------------------------------------------------- model

    @property
    def model(self) -> nn.Module:
        return self.loaded.module

    @property
    def source(self) -> str:
        return self.loaded.source

    @property
    def class_name(self) -> str:
        return type(self.model).__name__

    @property
    def read_only(self) -> bool:
        return self.loaded.read_only

    @property
    def on_meta(self) -> bool:
        """True when the model's weights are not allocated (built for shapes only)."""
        param = next(iter(self.model.parameters()), None)
        return param is not None and param.is_meta

    def tree(self) -> ModuleNode:
        """A fresh plain tree of the model as it is now."""
        return build_tree(self.model, self.editor.replaced)

    # ----------------------------------------------------------------- edits

    @property
    def replaced(self) -> list[str]:
        return self.editor.replaced

    def replace_with_identity(self, path: str) -> Edit:
        return self.editor.replace_with_identity(path)

    def restore(self, path: str) -> Edit:
        return self.editor.restore(path)

    def restore_all(self) -> Edit:
        return self.editor.restore_all()

    def undo(self) -> Edit:
        return self.editor.undo()

    def redo(self) -> Edit:
        return self.editor.redo()

    # ----------------------------------------------------------------- device and input

    def move_to(self, device: str | torch.device) -> None:
        """Move the model, and the originals that edits stashed, to ``device``."""
        target = resolve_device(str(device))
        if self.on_meta:
            self.device = target
            return
        self.model.to(target)
        self.editor.move_stash(target)
        self.device = target

    def set_input(self, spec: InputSpec) -> None:
        self.input_spec = spec

    def require_input(self) -> InputSpec:
        if self.input_spec is None:
            raise InputError(
                "no natural input is known for this model; give an input shape (e.g. --input-shape 1,3,224,224)"
            )
        return self.input_spec

    def make_inputs(self, device: torch.device | str | None = None) -> tuple[Any, ...]:
        return make_inputs(self.require_input(), device or self.device, arch=self.loaded.arch)

    # ----------------------------------------------------------------- runs

    def run(
        self,
        *,
        meta: bool = False,
        on_progress: probe.ProgressCallback | None = None,
        should_stop: probe.StopCallback | None = None,
        keep_output: bool = False,
    ) -> probe.ProbeRun:
        """Run the sample input through the model as it is now, recording every module."""
        spec = self.require_input()
        if meta or self.on_meta:
            shapes.check_meta_supported(self.loaded.task, self.read_only)
            result = shapes.meta_run(
                self.model, spec, mode=self.mode, on_progress=on_progress, should_stop=should_stop
            )
        else:
            args = make_inputs(spec, self.device, arch=self.loaded.arch)
            result = probe.run(
                self.model,
                args,
                mode=self.mode,
                on_progress=on_progress,
                should_stop=should_stop,
                keep_output=keep_output,
            )
        if not result.cancelled:
            self.last_run = result
            if not self.replaced:
                self.baseline_run = result
        return result

    def summary(self, depth: int = 4) -> str:
        """The torchinfo table for the current model and input."""
        return summary_text(self.model, self.make_inputs(), depth=depth, mode=self.mode)
