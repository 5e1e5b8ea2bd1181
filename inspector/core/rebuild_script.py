"""``rebuild_model.py``: Python that rebuilds an edited model from its source, with no Model Inspector.

The script is code that a person runs, so nothing from outside becomes code
in it. File names, module paths, architecture and weights names, the input
image: each goes into the script as a Python literal written by ``ascii()``
(a quoted, escaped, pure-ASCII string that can only ever read back as the
same string), in a block of constants at the top. The code below that block
is fixed text that reads those constants: modules are replaced with
``model.set_submodule(path, ...)`` over the list of paths, never by pasting
a path into ``model.<path> = ...`` (where a quote, a newline or a fullwidth
look-alike that Python folds into ASCII would turn a name into other code or
another module).
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

import torch

from inspector.core.inputs import FILLS, InputSpec, ModelInput, parse_randint
from inspector.core.passthrough import pass_through_paths
from inspector.core.session import Session
from inspector.core.sources.rebuild import build_lines

STATE_FILE = "model_state_dict.pt"

_FILLS = ("randn", "rand", "zeros", "ones")
_FLOATING = ("float32", "float64", "float16", "bfloat16")
_DTYPES = _FLOATING + ("int8", "int16", "int32", "int64", "uint8", "bool")


def literal(value: Any) -> str:
    """``value`` as a Python literal that evaluates to the same value, and only to it.

    Strings are written with ``ascii()``: quotes, backslashes, newlines and
    every non-ASCII character come out escaped, so the literal is one line
    of ASCII whatever the string holds. Only plain data is accepted.
    """
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        # repr of a finite float reads back as the same float; the others are written as float('...').
        return repr(value) if math.isfinite(value) else f"float({ascii(repr(value))})"
    if isinstance(value, str):
        return ascii(str(value))
    if isinstance(value, tuple):
        return "(" + "".join(literal(item) + ", " for item in value) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return "{" + ", ".join(f"{literal(key)}: {literal(item)}" for key, item in value.items()) + "}"
    raise TypeError(f"not plain data for a generated script: {type(value).__name__}")


def _num_classes_from_notes(notes: list[str]) -> int | None:
    for note in notes:
        match = re.search(r"num_classes=(\d+)", note)
        if match:
            return int(match.group(1))
    return None


def _source_lines(session: Session) -> tuple[list[str], list[tuple[str, Any, str]], list[str]]:
    """(import lines, data constants ``(NAME, value, what it is)``, lines that leave ``model`` built)."""
    loaded = session.loaded
    from_sources = build_lines(loaded)  # timm, hf, .pt2 and state_dicts with such an --arch
    if from_sources is not None:
        return from_sources[0], [], from_sources[1]
    imports = ["import torch", "from torch import nn"]
    data: list[tuple[str, Any, str]] = []
    if loaded.kind in ("torchvision", "state_dict") and loaded.arch:
        imports.append("import torchvision")
        weights = loaded.weights if loaded.kind == "torchvision" else None
        data += [("ARCH", loaded.arch, "the torchvision architecture"),
                 ("WEIGHTS", weights, "its torchvision weights (None: random)")]
        kwargs = ["weights=WEIGHTS"]
        if loaded.task in ("detection", "segmentation"):
            kwargs.append("weights_backbone=None")
        num_classes = _num_classes_from_notes(loaded.notes) if loaded.kind == "state_dict" else None
        if num_classes is not None:
            kwargs.append(f"num_classes={int(num_classes)}")
        return imports, data, [f"model = torchvision.models.get_model(ARCH, {', '.join(kwargs)})"]
    if loaded.kind == "callable":
        target, _, attr = loaded.source.rpartition(":")
        data.append(("FACTORY", attr, "the function or class that builds the model"))
        if target.endswith(".py"):
            imports.append("import importlib.util")
            data.insert(0, ("FACTORY_FILE", os.path.abspath(target), "the Python file that defines it"))
            return imports, data, [
                "_spec = importlib.util.spec_from_file_location('user_model', FACTORY_FILE)",
                "_module = importlib.util.module_from_spec(_spec)",
                "_spec.loader.exec_module(_module)",
                "model = getattr(_module, FACTORY)()",
            ]
        imports.append("import importlib")
        data.insert(0, ("FACTORY_MODULE", target, "the Python module that defines it"))
        return imports, data, ["model = getattr(importlib.import_module(FACTORY_MODULE), FACTORY)()"]
    data.append(("MODEL_FILE", os.path.abspath(loaded.source), "the model file"))
    if loaded.kind == "torchscript":
        return imports, data, ["model = torch.jit.load(MODEL_FILE, map_location='cpu')"]
    if loaded.kind == "export":
        return imports, data, ["model = torch.export.load(MODEL_FILE).module()"]
    # A pickled module: the full unpickler runs code from the file.
    return imports, data, [
        "# weights_only=False runs code from the file: only for a file you trust.",
        "model = torch.load(MODEL_FILE, map_location='cpu', weights_only=False)",
    ]


def _input_lines(session: Session) -> tuple[list[tuple[str, Any, str]], list[str]]:
    """(data constants, lines that make ``args`` and ``kwargs``), the way :func:`inspector.core.inputs.make_call` does."""
    spec = session.input_spec
    if spec is None:
        return [], ["args = ()  # no sample input was set in the inspector: give your own", "kwargs = {}"]
    inputs = session.inputs
    if inputs is not None and not _one_plain_tensor(inputs):
        return _call_lines(inputs)
    data: list[tuple[str, Any, str]] = [("INPUT_SHAPE", [int(s) for s in spec.shape], "the sample input's shape")]
    lines = [f"generator = torch.Generator().manual_seed({int(spec.seed)})"]
    fill = spec.fill
    if fill.startswith("image:"):
        data.append(("INPUT_IMAGE", fill[len("image:"):], "the image the inspector read; random values stand in for it"))
        fill = "randn"
    if fill not in _FILLS:
        fill = "randn"
    dtype = spec.dtype if spec.dtype in _DTYPES else "float32"
    floating = dtype in _FLOATING
    if fill in ("zeros", "ones"):
        draw = f"torch.{fill}(INPUT_SHAPE)"
    elif not floating:
        draw = f"torch.randint(0, {2 if fill == 'rand' else 10}, INPUT_SHAPE, generator=generator)"
    else:
        # Drawn in float32 and then converted, as the inspector does, so the values agree.
        draw = f"torch.{fill}(INPUT_SHAPE, generator=generator)"
    if dtype != "float32" or (not floating and fill in ("zeros", "ones")):
        draw += f".to(torch.{dtype})"
    if spec.layout == "pair":
        lines.append(f"args = tuple({draw} for _ in range(2))  # two images, as optical-flow models take")
    elif spec.layout == "images":
        lines.append(f"batch = {draw}")
        batch = "batch" if len(spec.shape) == 4 else "batch.unsqueeze(0)"
        lines.append(f"args = (list({batch}.unbind(0)),)  # a list of images, as detection models take")
    else:
        lines += [f"x = {draw}", "args = (x,)"]
    lines.append("kwargs = {}")
    return data, lines


TENSOR_KEY = "model_inspector_tensor"
"""Marks a described tensor in the INPUT_ARGS / INPUT_KWARGS data of a generated script."""


def _one_plain_tensor(inputs: ModelInput) -> bool:
    """``model(x)`` with one described tensor of the first round's fills: the short form of the script."""
    return (
        not inputs.kwargs
        and len(inputs.args) == 1
        and isinstance(inputs.args[0], InputSpec)
        and (inputs.args[0].fill in _FILLS or inputs.args[0].fill.startswith("image:"))
    )


def _leaf_data(value: Any, notes: list[str]) -> Any:
    """An input leaf as plain data for the script: described tensors become ``{TENSOR_KEY: {...}}``."""
    if isinstance(value, InputSpec):
        fill = value.fill
        dtype = value.dtype if value.dtype in _DTYPES else "float32"
        layout = value.layout if value.layout in ("tensor", "images", "pair") else "tensor"
        description: dict[str, Any] = {"shape": [int(s) for s in value.shape], "dtype": dtype, "layout": layout}
        if fill not in FILLS and not fill.startswith(("image:", "randint")):
            fill = "randn"
        if fill.startswith("image:"):
            notes.append("an image input is not read here: random values of its shape stand in for it")
            fill = "image"
        elif fill.startswith("randint"):
            low, high = parse_randint(fill)
            description.update(low=low, high=high)
            fill = "randint"
        description["fill"] = fill
        return {TENSOR_KEY: description}
    if isinstance(value, torch.Tensor):
        notes.append("a tensor read from a file is given as zeros of its shape and dtype")
        return {TENSOR_KEY: {"shape": list(value.shape), "dtype": str(value.dtype).removeprefix("torch."),
                             "layout": "tensor", "fill": "zeros"}}
    if isinstance(value, dict):
        return {str(key): _leaf_data(item, notes) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_leaf_data(item, notes) for item in value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    notes.append("an input that is not plain data is given as None")
    return None


_CALL_CODE = f"""\
def draw(leaf, generator):
    \"\"\"One described tensor, drawn as Model Inspector draws it (values in float32, then converted).\"\"\"
    shape, dtype, fill = leaf["shape"], getattr(torch, leaf["dtype"]), leaf["fill"]
    if fill in ("zeros", "ones"):
        return getattr(torch, fill)(shape, dtype=dtype)
    if fill == "arange":
        steps = torch.arange(shape[-1] if shape else 1, dtype=torch.int64)
        return steps.expand(shape).to(dtype).contiguous() if shape else steps[0].to(dtype)
    if fill == "randint":
        return torch.randint(leaf["low"], leaf["high"], shape, generator=generator).to(dtype)
    if fill == "image":  # the image is not read here: random values of its shape, from their own generator
        return torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(dtype)
    if not dtype.is_floating_point:
        return torch.randint(0, 2 if fill == "rand" else 10, shape, generator=generator).to(dtype)
    return (torch.randn if fill == "randn" else torch.rand)(shape, generator=generator, dtype=torch.float32).to(dtype)


def build(value, generator):
    \"\"\"The input with every described tensor drawn, in order (positions, then names).\"\"\"
    if isinstance(value, dict) and {TENSOR_KEY!r} in value:
        leaf = value[{TENSOR_KEY!r}]
        if leaf["layout"] == "pair":
            return [draw(leaf, generator), draw(leaf, generator)]
        tensor = draw(leaf, generator)
        if leaf["layout"] == "images":
            return list((tensor if tensor.dim() == 4 else tensor.unsqueeze(0)).unbind(0))
        return tensor
    if isinstance(value, dict):
        return {{key: build(item, generator) for key, item in value.items()}}
    if isinstance(value, (list, tuple)):
        return type(value)(build(item, generator) for item in value)
    return value
"""


_DTYPE_CODE = """\
def to_dtype(value, dtype):
    \"\"\"Every floating tensor in ``value`` as ``dtype`` (integer token ids and masks keep theirs).\"\"\"
    if isinstance(value, torch.Tensor):
        return value.to(dtype) if value.is_floating_point() else value
    if isinstance(value, dict):
        return {key: to_dtype(item, dtype) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_dtype(item, dtype) for item in value)
    return value
"""


def _call_lines(inputs: ModelInput) -> tuple[list[tuple[str, Any, str]], list[str]]:
    """The general form: positions and names, nested, with every fill."""
    notes: list[str] = []
    args = [_leaf_data(value, notes) for value in inputs.args]
    kwargs = {name: _leaf_data(value, notes) for name, value in inputs.kwargs.items()}
    data: list[tuple[str, Any, str]] = [
        ("INPUT_ARGS", args, f"the positional inputs; {{{TENSOR_KEY!r}: ...}} describes a tensor"),
        ("INPUT_KWARGS", kwargs, "the inputs given by name"),
    ]
    lines = [f"generator = torch.Generator().manual_seed({int(inputs.seed)})", "args = []", "for _value in INPUT_ARGS:"]
    lines += [
        "    _built = build(_value, generator)",
        f"    if isinstance(_value, dict) and _value.get({TENSOR_KEY!r}, {{}}).get('layout') == 'pair':",
        "        args.extend(_built)  # two tensors, as optical-flow models take",
        "    else:",
        "        args.append(_built)",
        "kwargs = {name: build(value, generator) for name, value in INPUT_KWARGS.items()}",
    ]
    lines += [f"# {note}" for note in dict.fromkeys(notes)]
    return data, lines


def rebuild_snippet(session: Session, state_file: str | None = STATE_FILE) -> str:
    """Python source that rebuilds the session's edited model from its source.

    Run on its own it loads ``state_file`` when the file sits beside it,
    runs the sample input (same shape, dtype, fill and seed) and prints the
    output shapes as JSON, e.g. ``[[1, 512]]``. Every string from the
    session is a literal in the data block (see :func:`literal`).
    """
    imports, data, build = _source_lines(session)
    input_data, input_lines = _input_lines(session)
    passing = pass_through_paths(session.model, list(session.replaced))
    data = [("SOURCE", session.source, "where the model came from"), *data,
            ("REPLACED", list(session.replaced), "modules replaced with nn.Identity (`layer1.0` is model.layer1[0])"),
            *input_data]
    if passing:
        data.append(("PASS_THROUGH", passing, "of those, blocks called with extra arguments or returning tuples"))
    if passing:
        edits = [
            "try:  # an Identity that fits a block's call (extra arguments, tuple returns), as in Model Inspector",
            "    from inspector.core.passthrough import PassThroughIdentity",
            "except ImportError:  # without Model Inspector: nn.Identity, which fits one-tensor calls only",
            "    PassThroughIdentity = None",
            "for _path in REPLACED:",
            "    if _path in PASS_THROUGH and PassThroughIdentity is not None:",
            "        model.set_submodule(_path, PassThroughIdentity(model.get_submodule(_path)))",
            "    else:",
            "        model.set_submodule(_path, nn.Identity())",
        ]
    else:
        edits = ["for _path in REPLACED:", "    model.set_submodule(_path, nn.Identity())"]
    if state_file is not None:
        data.append(("STATE_FILE", state_file, "the edited weights, loaded when they sit beside this script"))
    run_dtype = session.dtype if session.dtype in _FLOATING else None
    if run_dtype is not None:
        data.append(("RUN_DTYPE", run_dtype, "the floating dtype the model and its floating inputs ran in (--dtype)"))
    lines = [
        '"""Rebuild a model as edited in Model Inspector: the modules in REPLACED become nn.Identity.',
        "",
        "Run it to print the output shapes of the sample input; import it to get `model`.",
        "The names in capitals are data written by Model Inspector (string literals, never code).",
        '"""',
        "",
        "import json",
        "import os",
        "",
        *imports,
        "",
    ]
    for name, value, what in data:
        lines += [f"# {what}", f"{name} = {literal(value)}"]
    lines += [
        "",
        *build,
        *edits,
        "",
        "",
        *([_CALL_CODE, ""] if "INPUT_ARGS" in {name for name, _, _ in data} else []),
        *([_DTYPE_CODE, ""] if run_dtype is not None else []),
        "def output_shapes(value):",
        '    """The shapes of every tensor in a model output, depth first."""',
        "    if isinstance(value, torch.Tensor):",
        "        return [list(value.shape)]",
        "    if isinstance(value, dict):",
        "        value = list(value.values())",
        "    if isinstance(value, (list, tuple)):",
        "        return [shape for item in value for shape in output_shapes(item)]",
        "    return []",
        "",
        "",
        'if __name__ == "__main__":',
    ]
    if state_file is not None:
        lines += [
            "    state_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), STATE_FILE)",
            "    if os.path.exists(state_path):",
            "        model.load_state_dict(torch.load(state_path, map_location='cpu', weights_only=True))",
        ]
    lines.append("    model.train()" if session.mode == "train" else "    model.eval()")
    lines += ["    " + line for line in input_lines]
    if run_dtype is not None:
        lines += [
            "    model.to(getattr(torch, RUN_DTYPE))",
            "    args, kwargs = to_dtype((args, kwargs), getattr(torch, RUN_DTYPE))",
        ]
    lines += [
        "    with torch.no_grad():",
        "        output = model(*args, **kwargs)",
        "    print(json.dumps(output_shapes(output)))",
    ]
    return "\n".join(lines) + "\n"
