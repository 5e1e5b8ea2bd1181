"""The exported ``rebuild_model.py`` takes names as data: hostile file and module names run nothing.

Every test writes the model under a hostile name, exports it, and runs the
generated script in a fresh interpreter whose current folder is an empty
one under ``tmp_path`` and whose ``PYTHONPATH`` holds nothing but what the
script needs. A payload hidden in a name would ``touch PWNED`` in that
folder; the tests assert that the script rebuilt the right model (the same
modules replaced, the same output shapes) and that ``PWNED`` does not exist.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from inspector.core.export import SNIPPET_FILE, STATE_FILE, export_session
from inspector.core.inputs import InputSpec
from inspector.core.rebuild_script import literal, rebuild_snippet
from inspector.core.session import Session

PAYLOAD = 'str(getattr(__import__("os"),"system")("touch PWNED"))'
"""Python that makes the file PWNED in the current folder: no dot and no slash, so it fits in any name."""

HOSTILE_NAMES = [
    f'x"""+{PAYLOAD}+"""',
    f"x'''+{PAYLOAD}+'''",
    f'x"+{PAYLOAD}+"',
    'q"uote',
    "s'ingle",
    "back\\slash",
    "C:\\Users\\me",
    "new\nline",
    f"line\n{PAYLOAD}\n",
    "hash#x",
    "ｆｃ",  # fullwidth: Python folds the identifier ｆｃ into fc
    "fc",
    "é\u2028x",  # a line separator and a non-ASCII letter
]
"""Module names that add_module accepts (anything without a dot)."""

REPLACED = [name for name in HOSTILE_NAMES if name != "fc"]


def run_python(args: list[str], cwd: Path, pythonpath: list[Path] = ()) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter in ``cwd`` that finds torch and torchvision and, besides, only ``pythonpath``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in pythonpath)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def run_script(script: Path, tmp_path: Path, pythonpath: list[Path] = ()) -> Any:
    """Run the script as a program in an empty folder: its printed output shapes; PWNED must not appear."""
    where = tmp_path / "run"
    where.mkdir(exist_ok=True)
    done = run_python([str(script)], where, pythonpath)
    assert not (where / "PWNED").exists(), "a name in the script ran as code"
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def modules_of_script(script: Path, tmp_path: Path, pythonpath: list[Path] = ()) -> list[list[str]]:
    """Import the script (not as __main__) in a fresh interpreter: its model's (name, type) pairs."""
    where = tmp_path / "run"
    where.mkdir(exist_ok=True)
    code = (
        "import json, runpy, sys\n"
        "model = runpy.run_path(sys.argv[1], run_name='rebuilt')['model']\n"
        "print(json.dumps([[n, type(m).__name__] for n, m in model.named_modules()]))\n"
    )
    done = run_python(["-c", code, str(script)], where, pythonpath)
    assert not (where / "PWNED").exists(), "a name in the script ran as code"
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def expected_modules(session: Session) -> list[list[str]]:
    return [[name, type(module).__name__] for name, module in session.model.named_modules()]


FACTORY = textwrap.dedent(
    """
    import torch
    from torch import nn

    NAMES = {names!r}


    class Hostile(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            for name in NAMES:
                self.add_module(name, nn.Linear(4, 4))

        def forward(self, x):
            for module in self._modules.values():
                x = module(x)
            return x


    def make():
        return Hostile()
    """
)


def hostile_factory(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "factory.py"
    path.write_text(FACTORY.format(names=HOSTILE_NAMES))
    return path


# --------------------------------------------------------------------------- names of files


def test_a_state_dict_named_to_break_out_of_a_string_runs_nothing(tmp_path):
    # The file: a weights-only state_dict whose name closes the docstring and calls os.system.
    model_path = tmp_path / f'weights"""+{PAYLOAD}+""".pt'
    from inspector.core.loading import build_torchvision

    torch.save(build_torchvision("squeezenet1_1").state_dict(), model_path)
    session = Session.open(str(model_path), arch="squeezenet1_1")
    session.set_input(InputSpec((1, 3, 64, 64)))
    session.replace_with_identity("classifier.1")
    folder = tmp_path / "export"
    export_session(session, str(folder))
    script = folder / SNIPPET_FILE
    assert run_script(script, tmp_path) == session.run().output_shapes == [[1, 512]]
    assert modules_of_script(script, tmp_path) == expected_modules(session)


@pytest.mark.parametrize("name", ["C:\\Users\\me\\net.ts", f"net'''{PAYLOAD}'''\n#.ts", "ｎｅｔ \u2029.ts"])
def test_a_torchscript_file_with_a_hostile_name_rebuilds(tmp_path, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), torch.randn(1, 4))
        torch.jit.save(traced, str(tmp_path / name))
    session = Session.open(str(tmp_path / name))
    assert session.loaded.kind == "torchscript"
    session.set_input(InputSpec((2, 4)))
    export = tmp_path / "export"
    export_session(session, str(export))
    assert run_script(export / SNIPPET_FILE, tmp_path) == [[2, 3]]


def test_a_factory_file_in_a_hostile_folder_rebuilds_with_the_right_modules(tmp_path):
    folder = tmp_path / f"dir'\"\"\"+{PAYLOAD}+\"\"\"#\\\n"
    factory = hostile_factory(folder)
    session = Session.open(f"{factory}:make")
    session.set_input(InputSpec((2, 4)))
    for name in REPLACED:
        session.replace_with_identity(name)
    # Only fc is left: the fullwidth ｆｃ was replaced, not fc.
    assert type(session.model.get_submodule("fc")) is nn.Linear
    export = tmp_path / "export"
    export_session(session, str(export))
    script = export / SNIPPET_FILE
    assert modules_of_script(script, tmp_path) == expected_modules(session)
    assert run_script(script, tmp_path) == [[2, 4]]


def test_a_package_callable_rebuilds_from_its_module_by_name(tmp_path):
    root = tmp_path / "packages"
    package = root / "hostile_rebuild_pkg"
    hostile_factory(package)
    (package / "__init__.py").write_text("")
    sys.path.insert(0, str(root))
    try:
        session = Session.open("hostile_rebuild_pkg.factory:make")
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n.startswith("hostile_rebuild_pkg")]:
            del sys.modules[name]
    session.set_input(InputSpec((1, 4)))
    session.replace_with_identity("ｆｃ")
    export = tmp_path / "export"
    export_session(session, str(export))
    script = export / SNIPPET_FILE
    assert modules_of_script(script, tmp_path, [root]) == expected_modules(session)
    assert run_script(script, tmp_path, [root]) == [[1, 4]]


def test_the_rebuilt_model_computes_what_the_inspector_computed(tmp_path):
    # Same weights (loaded from the export), same replaced modules: the same numbers.
    factory = hostile_factory(tmp_path / "f")
    session = Session.open(f"{factory}:make")
    session.set_input(InputSpec((3, 4)))
    session.replace_with_identity("ｆｃ")
    session.replace_with_identity(HOSTILE_NAMES[0])
    export = tmp_path / "export"
    export_session(session, str(export))
    where = tmp_path / "run"
    where.mkdir()
    code = (
        "import runpy, sys, torch\n"
        "model = runpy.run_path(sys.argv[1], run_name='rebuilt')['model']\n"
        "model.load_state_dict(torch.load(sys.argv[2], weights_only=True))\n"
        "x = torch.arange(12, dtype=torch.float32).reshape(3, 4)\n"
        "torch.save(model.eval()(x).detach(), sys.argv[3])\n"
    )
    done = run_python(["-c", code, str(export / SNIPPET_FILE), str(export / STATE_FILE), str(where / "out.pt")], where)
    assert done.returncode == 0, done.stderr
    assert not (where / "PWNED").exists()
    x = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    with torch.no_grad():
        assert torch.equal(torch.load(where / "out.pt", weights_only=True), session.model.eval()(x))


# --------------------------------------------------------------------------- the literals


@given(st.text())
def test_any_string_becomes_one_ascii_line_that_reads_back_as_itself(text):
    written = literal(text)
    assert written.isascii() and "\n" not in written and "\r" not in written
    assert ast.literal_eval(written) == text


def test_no_name_reaches_the_script_outside_a_literal(tmp_path):
    factory = hostile_factory(tmp_path / "f")
    session = Session.open(f"{factory}:make")
    session.set_input(InputSpec((1, 4), fill=f"image:{tmp_path}/im'''{PAYLOAD}'''.png"))
    for name in REPLACED:
        session.replace_with_identity(name)
    text = rebuild_snippet(session)
    compile(text, SNIPPET_FILE, "exec")
    assert text.isascii()
    # The payload appears only inside string constants of the module.
    tree = ast.parse(text)
    calls = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert not any("__import__" in call or "system" in call for call in calls)
