"""The one object that owns a model while it is being inspected.

The GUI and the command line both talk to a :class:`Session`: it holds the
live model, its edits, the sample input, the device and mode, and the runs
made so far. Nothing else keeps a reference to the model, so nothing can go
stale after an edit or a move to another device.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn

from inspector.core import probe, shapes
from inspector.core.devices import resolve_device
from inspector.core.edits import Edit, ModelEditor
from inspector.core.errors import DeviceError, InputError
from inspector.core.input_defaults import natural_inputs
from inspector.core.inputs import (
    InputSpec,
    ModelInput,
    as_model_input,
    as_positional,
    make_call,
    parse_dtype,
    resolve_fills,
)
from inspector.core.loading import LoadedModel, load_model
from inspector.core.precision import model_dtype
from inspector.core.summary import summary_text
from inspector.core.tree import ModuleNode, build_tree, check_structure, count_params, param_numel


class Session:
    """A loaded model with its edits, input, device, mode and runs."""

    def __init__(self, loaded: LoadedModel) -> None:
        # Before anything walks the model: a cycle is refused, deep nesting gets room.
        check_structure(loaded.module)
        _uncompile(loaded)
        self.loaded = loaded
        self.editor = ModelEditor(loaded.module, read_only=loaded.read_only)
        self.inputs: ModelInput | None = None
        """Everything the forward is called with (None: no natural input is known; see ``input_problem``)."""
        self.input_problem: str | None = None
        """Why no natural input is known, when the model says (a lazy first layer)."""
        try:
            self.inputs = natural_inputs(loaded.module, loaded.arch, loaded.task)
        except InputError as error:
            self.input_problem = str(error)
        self.dtype: str | None = None
        """The floating dtype the model and its floating inputs run in (``--dtype``); None: as they are."""
        self.grad = False
        """Run with gradients enabled (models that differentiate inside their forward)."""
        self.device = torch.device(loaded.dispatch.main_device if loaded.dispatch is not None else "cpu")
        self.mode = "eval"
        self.last_run: probe.ProbeRun | None = None
        self.baseline_run: probe.ProbeRun | None = None
        """The latest run of the model with no edits in place, for before/after views."""
        self.params = count_params(loaded.module)
        self.trainable_params = sum(param_numel(p) for p in loaded.module.parameters() if p.requires_grad)
        self.module_count = sum(1 for _ in loaded.module.named_modules())
        self._lazy = any(nn.parameter.is_lazy(p) for p in loaded.module.parameters())
        if self._lazy:
            loaded.notes.append("LazyModules: parameters are materialised by the first run")

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
        if self.dispatch is not None:
            return False  # offloaded weights sit on meta between calls; accelerate brings them in
        param = next(iter(self.model.parameters()), None)
        return param is not None and param.is_meta

    @property
    def dispatch(self) -> Any:
        """Where accelerate put each module (:class:`inspector.core.dispatch.Dispatch`), or None for a model in one place."""
        return self.loaded.dispatch

    def close(self) -> None:
        """Let go of what the session holds outside memory (a dispatched model's temporary offload folder)."""
        if self.dispatch is not None:
            self.dispatch.close()

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

    def revert(self, edit: Edit) -> None:
        """Take back ``edit`` (undo); see :meth:`ModelEditor.revert`."""
        self.editor.revert(edit)

    def apply(self, edit: Edit) -> None:
        """Make ``edit`` again (redo); see :meth:`ModelEditor.apply`."""
        self.editor.apply(edit)

    # ----------------------------------------------------------------- device and input

    def move_to(self, device: str | torch.device) -> None:
        """Move the model, and the originals that edits stashed, to ``device``."""
        if self.dispatch is not None:
            if str(device) not in ("auto", self.dispatch.main_device):
                raise DeviceError(
                    f"this model was dispatched by accelerate (--device auto); it runs on {self.dispatch.main_device} "
                    "and cannot be moved; open it again to choose another device"
                )
            return
        if str(device) == "auto":
            raise DeviceError(
                "device auto loads the model's checkpoint dispatched by accelerate: open the model again "
                "with auto chosen (command line: --device auto)"
            )
        target = resolve_device(str(device))
        if self.on_meta:
            self.device = target
            return
        if target.type != "cpu" and target != self.device:
            # Refused before the copy starts, with the numbers and --device auto to use instead.
            from inspector.core.common import model_bytes
            from inspector.core.dispatch import check_fits

            check_fits(model_bytes(self.model), target, self.source)
        self.model.to(target)
        self.editor.move_stash(target)
        self.device = target

    @property
    def input_spec(self) -> InputSpec | None:
        """The first tensor of the input (the whole input of a one-tensor model), with the input's seed."""
        return self.inputs.first_spec() if self.inputs is not None else None

    def set_input(self, spec: InputSpec | ModelInput) -> None:
        """Use ``spec`` from now on; bare ``randint`` token ids take the model's vocabulary."""
        self.inputs = resolve_fills(self.model, as_model_input(spec))

    def require_input(self) -> InputSpec:
        """The first tensor of the input; :class:`InputError` when none is known."""
        spec = self.require_inputs().first_spec()
        if spec is None:
            raise InputError("the input has no tensor; give one (e.g. --input-shape 1,3,224,224)")
        return spec

    def require_inputs(self) -> ModelInput:
        """The whole input; :class:`InputError` (saying what to give) when none is known."""
        if self.inputs is None:
            raise InputError(
                self.input_problem
                or "no natural input is known for this model; give an input shape (e.g. --input-shape 1,3,224,224)"
            )
        return self.inputs

    def make_call(self, device: torch.device | str | None = None) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """``(args, kwargs)`` of the forward, on ``device`` (the session's by default), in the run's dtype."""
        return make_call(self.require_inputs(), device or self.device, arch=self.loaded.arch, float_dtype=self.dtype)

    def make_inputs(self, device: torch.device | str | None = None) -> tuple[Any, ...]:
        """The input as positional arguments only, for the tools that call ``model(*args)``."""
        args, kwargs = self.make_call(device)
        return as_positional(self.model, args, kwargs)

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
        inputs = self.require_inputs()
        if meta or self.on_meta:
            shapes.check_meta_supported(self.loaded.task, self.read_only)
            result = shapes.meta_run(
                self.model, inputs, mode=self.mode, on_progress=on_progress, should_stop=should_stop,
                float_dtype=self.dtype,
            )
        else:
            args, kwargs = self.make_call()
            timing = self.dispatch.timing(self.model) if self.dispatch is not None else contextlib.nullcontext()
            with timing, model_dtype(self.model, parse_dtype(self.dtype) if self.dtype is not None else None):
                result = probe.run(
                    self.model,
                    args,
                    mode=self.mode,
                    on_progress=on_progress,
                    should_stop=should_stop,
                    keep_output=keep_output,
                    kwargs=kwargs,
                    grad=self.grad,
                )
        if self._lazy and not (meta or self.on_meta):
            self._count_materialised()
        if not result.cancelled:
            self.last_run = result
            if not self.replaced:
                self.baseline_run = result
        return result

    def _count_materialised(self) -> None:
        """Count the parameters again once the first run has given the LazyModules their shapes."""
        self._lazy = any(nn.parameter.is_lazy(p) for p in self.model.parameters())
        self.params = count_params(self.model)
        self.trainable_params = sum(param_numel(p) for p in self.model.parameters() if p.requires_grad)
        if not self._lazy:
            self.loaded.notes.append(f"LazyModules materialised by the first run: {self.params:,} parameters")

    def summary(self, depth: int = 4) -> str:
        """The torchinfo table for the current model and input."""
        with model_dtype(self.model, parse_dtype(self.dtype) if self.dtype is not None else None):
            return summary_text(self.model, self.make_inputs(), depth=depth, mode=self.mode)


def _uncompile(loaded: LoadedModel) -> None:
    """A ``torch.compile``'d model (or submodule) is inspected through its original: see :mod:`inspector.core.odd_modules`."""
    from inspector.core.odd_modules import compiled_note, uncompile

    module, count = uncompile(loaded.module)
    if count:
        loaded.module = module
        loaded.notes.append(compiled_note(count))
