"""Replacing submodules with ``nn.Identity`` and putting the originals back.

Every change to the live model goes through :class:`ModelEditor`: it keeps the
exact original module objects (same parameters, same tensors) so that a
restore is bit-identical. Each edit comes back as an :class:`Edit` that can be
reverted and applied again (:meth:`ModelEditor.revert`, :meth:`ModelEditor.apply`);
the editor holds the state (what is replaced, the originals), never a history:
whoever undoes keeps the edits (the GUI's ``QUndoCommand`` holds one each; the
command line never undoes).
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from inspector.core.errors import EditError
from inspector.core.passthrough import PassThroughIdentity, returns_its_kind


@dataclass
class Swap:
    """One path whose module is exchanged between the original and its Identity."""

    path: str
    original: nn.Module
    identity: nn.Identity
    restores: bool = False
    """False: the swap puts the Identity in; True: it puts the original back."""


@dataclass
class Edit:
    """One user action on the model: what it swapped, in order, and its name."""

    text: str
    """What a person reads in the Undo menu: "Replace fc with Identity"."""
    swaps: list[Swap] = field(default_factory=list)


class ModelEditor:
    """Edits on one live model, with the originals kept for restore and undo."""

    def __init__(self, model: nn.Module, *, read_only: bool = False) -> None:
        self.model = model
        self.read_only = read_only or isinstance(model, torch.jit.ScriptModule)
        self._originals: dict[str, nn.Module] = {}
        self._identities: dict[str, nn.Identity] = {}

    # ----------------------------------------------------------------- queries

    @property
    def replaced(self) -> list[str]:
        """Paths now holding an Identity put in by an edit, in the order they were made."""
        return list(self._originals)

    def original(self, path: str) -> nn.Module | None:
        """The module that an Identity at ``path`` stands in for."""
        return self._originals.get(path)

    def made(self, path: str) -> Edit:
        """The edit that put the Identity now at ``path`` (a session file's edit, to be undone like any other)."""
        if path not in self._originals:
            raise EditError(f"{path!r} is not replaced")
        return Edit(f"Replace {path} with Identity", [Swap(path, self._originals[path], self._identities[path])])

    # ----------------------------------------------------------------- checks

    def _check_editable(self) -> None:
        if self.read_only:
            raise EditError(
                "TorchScript modules cannot be edited (they run no Python hooks); "
                "open the eager model (a torchvision name, a state_dict with --arch, or a callable) instead"
            )

    def _check_path(self, path: str) -> nn.Module:
        """The module at ``path``, or an :class:`EditError` saying why there is none."""
        if not path:
            raise EditError("the root module cannot be replaced; choose one of its submodules")
        # First: a pass-through stand-in answers attribute lookups for its original, children too.
        for replaced in self._originals:
            if path.startswith(replaced + "."):
                raise EditError(f"{path!r} is inside {replaced!r}, which is replaced with Identity; restore {replaced!r} first")
        # Looked up along the path itself: listing every path first would take
        # as long as the model has paths (2**30 where modules are shared at 30 levels).
        try:
            return self.model.get_submodule(path)
        except AttributeError:
            pass
        owner_path, _, leaf = path.rpartition(".")
        try:
            owner = self.model.get_submodule(owner_path)
        except AttributeError:
            owner = None
        if owner is not None and (leaf in owner._parameters or leaf in owner._buffers):
            kind = "parameter" if leaf in owner._parameters else "buffer"
            target = f"'{owner_path}'" if owner_path else "a submodule"
            raise EditError(f"{path!r} is a {kind}, not a module; replace {target} instead")
        close = difflib.get_close_matches(path, [n for n, _ in self.model.named_modules() if n], n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise EditError(f"no submodule {path!r} in {type(self.model).__name__}{hint}")

    # ----------------------------------------------------------------- edits

    def _swap(self, path: str, module: nn.Module) -> None:
        # strict=True: a typo must raise, never add a new attribute to the model.
        self.model.set_submodule(path, module, strict=True)

    def replace_with_identity(self, path: str) -> Edit:
        """Put an ``nn.Identity`` at ``path``; the original is kept for restore."""
        edit = self._identity_edit(path, f"Replace {path} with Identity")
        self._apply(edit)
        return edit

    def _identity_edit(self, path: str, text: str) -> Edit:
        """The edit that would put a new Identity at ``path``, checked but not applied."""
        self._check_editable()
        current = self._check_path(path)
        if path in self._originals:
            raise EditError(f"{path!r} is already replaced with Identity")
        _check_not_in_script(self.model, path)
        # Torch's own leaf layers take and return one tensor: a plain
        # Identity fits. Anything else may be called with extra arguments or
        # return a tuple or ModelOutput: the stand-in learns the call, so that
        # removing a block equals deleting it.
        identity = nn.Identity() if returns_its_kind(current) else PassThroughIdentity(current)
        identity.train(current.training)
        return Edit(text, [Swap(path, current, identity)])

    def restore(self, path: str) -> Edit:
        """Put the original module back at ``path``."""
        self._check_editable()
        if path not in self._originals:
            self._check_path(path)
            raise EditError(f"{path!r} is not replaced; nothing to restore")
        outer = next((p for p in self._originals if path.startswith(p + ".")), None)
        if outer is not None:
            # The Identity at `path` lives inside the stashed original of
            # `outer`, not in the model: set_submodule would not find it.
            raise EditError(f"{path!r} is inside {outer!r}, which is replaced with Identity; restore {outer!r} first")
        edit = Edit(f"Restore {path}", [Swap(path, self._originals[path], self._identities[path], restores=True)])
        self._apply(edit)
        return edit

    def restore_all(self) -> Edit:
        """Put every original back, innermost edits last undone first."""
        self._check_editable()
        if not self._originals:
            raise EditError("no layer is replaced; nothing to restore")
        swaps = [
            Swap(p, self._originals[p], self._identities[p], restores=True) for p in reversed(self._originals)
        ]
        edit = Edit(f"Restore all ({len(swaps)} layer{'s' if len(swaps) != 1 else ''})", swaps)
        self._apply(edit)
        return edit

    def revert(self, edit: Edit) -> None:
        """Take back ``edit`` (an Edit this editor made), the exact objects going back where they were.

        Edits are reverted newest first: reverting one whose swaps no longer
        match the model (a later edit on the same path still in place) is refused.
        """
        self._check_editable()
        for swap in reversed(edit.swaps):
            self._check_swap(swap, identity_now=not swap.restores)
        self._revert(edit)

    def apply(self, edit: Edit) -> None:
        """Make ``edit`` again after :meth:`revert` (redo), with the same Identity objects."""
        self._check_editable()
        for swap in edit.swaps:
            self._check_swap(swap, identity_now=swap.restores)
        self._apply(edit)

    def _check_swap(self, swap: Swap, *, identity_now: bool) -> None:
        """Refuse a swap whose "before" is not the model's state (edits undone out of order)."""
        if identity_now:
            fits = self._identities.get(swap.path) is swap.identity
        else:
            fits = swap.path not in self._originals
        if not fits:
            state = "replaced" if swap.path in self._originals else "not replaced"
            raise EditError(f"{swap.path!r} is {state} now; undo and redo the later edits first")

    @contextlib.contextmanager
    def trial(self, path: str) -> Iterator[nn.Identity]:
        """``path`` replaced with Identity for the ``with`` block only, not an edit of the model.

        The original object goes back when the block ends, even on an
        exception, so the model is exactly as before. Used by the knockout sweep.
        """
        edit = self._identity_edit(path, f"Try {path} as Identity")
        self._apply(edit)
        try:
            yield edit.swaps[0].identity
        finally:
            self._revert(edit)

    @contextlib.contextmanager
    def suspended(self) -> Iterator[None]:
        """Every edit taken out for the ``with`` block only: the unedited model, not an edit of the model.

        The same Identity objects go back in, in the same order, when the block ends.
        """
        swaps = [Swap(p, self._originals[p], self._identities[p], restores=True) for p in reversed(self._originals)]
        edit = Edit("Suspend edits", swaps)
        self._apply(edit)
        try:
            yield
        finally:
            self._revert(edit)

    def _apply(self, edit: Edit) -> None:
        for swap in edit.swaps:
            self._set(swap, identity_in=not swap.restores)

    def _revert(self, edit: Edit) -> None:
        for swap in reversed(edit.swaps):
            self._set(swap, identity_in=swap.restores)

    def _set(self, swap: Swap, *, identity_in: bool) -> None:
        if identity_in:
            self._swap(swap.path, swap.identity)
            self._originals[swap.path] = swap.original
            self._identities[swap.path] = swap.identity
        else:
            self._follow_device(swap.original)
            self._swap(swap.path, swap.original)
            del self._originals[swap.path]
            del self._identities[swap.path]

    def _follow_device(self, module: nn.Module) -> None:
        """Move a module coming back into the model to the model's device and dtype.

        The model may have moved while the module was stashed; a module left
        behind on another device would break the next run.
        """
        if hasattr(self.model, "hf_device_map"):
            # Dispatched by accelerate: the original keeps its hooks, which put its
            # weights where the run needs them; moving it would read offloaded (meta) weights.
            return
        reference = next((p for p in self.model.parameters()), None)
        if reference is None:
            return
        for tensor in list(module.parameters()) + list(module.buffers()):
            if tensor.device != reference.device:
                module.to(reference.device)
                break
        if reference.is_floating_point() and any(
            p.is_floating_point() and p.dtype != reference.dtype for p in module.parameters()
        ):
            module.to(reference.dtype)

    def move_stash(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        """Move the stashed originals along with the model (call after ``model.to``)."""
        for module in self._originals.values():
            module.to(device=device, dtype=dtype)


def _check_not_in_script(model: nn.Module, path: str) -> None:
    """An :class:`EditError` when ``path`` lies inside a TorchScript module: its compiled code calls the module, and
    torch refuses an eager one in its place."""
    parts = path.split(".")
    for end in range(len(parts)):
        outer = ".".join(parts[:end])
        if isinstance(model.get_submodule(outer), torch.jit.ScriptModule):
            target = f"replace {outer!r} itself" if outer else "open the eager model instead"
            where = f"the TorchScript module {outer!r}" if outer else "a TorchScript model"
            raise EditError(f"{path!r} is inside {where}, whose compiled code calls it; it cannot be replaced: {target}")
