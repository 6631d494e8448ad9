"""Checkpoints: saving a model's weights so that a crash never leaves half a file, and loading them safely.

Explained in notebooks/06_putting_it_all_together.ipynb (section 5). Three ideas:

- **Atomic writes.** ``atomic_write`` writes to a temporary file next to the target and renames it over the
  target only when the write finished: a reader (or the next run) sees the old file or the new one, never half
  of one. A failed write is an ``OSError`` naming the file.
- **Plain contents.** A checkpoint holds tensors and plain Python values (numbers, strings, lists, dicts), so
  ``torch.load(weights_only=True)`` can read it without running any code from the file. ``save_checkpoint``
  converts NumPy numbers, arrays, paths and ``History`` objects to such values, and refuses anything else.
- **Clear refusals.** ``load_checkpoint`` names the file and says what is wrong with it: missing, empty,
  truncated, not a checkpoint, a bare ``state_dict``, or objects that could run code.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn


class CheckpointError(ValueError):
    """A file given to ``load_checkpoint`` (or a value given to ``save_checkpoint``) that cannot be used."""


# ----------------------------------------------------------------------------------------------- atomic writes
def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb"):
    """Open a temporary file next to ``path`` for writing; on success rename it over ``path``.

    Readers see the old file or the new one, never half of one; on an error (or Ctrl-C) the temporary
    file is removed. (A process killed mid-write leaves its ``.<name>.*.tmp`` behind: nothing else is deleted.)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_current_umask())  # the permissions of a normally created file, not mkstemp's 0600
        with os.fdopen(fd, mode) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def check_writable(path: Path, argument: str) -> None:
    """Raise a ``ValueError`` naming ``argument`` unless a file can be written at ``path`` (checked by writing one)."""
    if path.is_dir():
        raise ValueError(f"{argument} must be a file path, but {path} is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.probe.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise ValueError(f"{argument}: cannot write a file at {path} ({err.strerror or err})") from err


def write_file(path: str | os.PathLike, obj: Any) -> None:
    """``torch.save(obj)`` to ``path`` atomically; a failed write is an ``OSError`` naming the file."""
    try:
        with atomic_write(path, "wb") as f:
            torch.save(obj, f)
    except OSError as err:
        raise OSError(err.errno, f"could not write {path}: {err.strerror or err}", str(path)) from err
    except RuntimeError as err:  # torch's zip writer on a full disk: "[enforce fail at inline_container.cc] ..."
        raise OSError(errno.EIO, f"could not write {path} (is the disk full?): {err}", str(path)) from err


# ----------------------------------------------------------------------------------------------- save
def plain_value(value: Any, name: str = "value") -> Any:
    """``value`` as something ``torch.load(weights_only=True)`` reads back: numbers, strings, None, tensors,
    and lists, tuples and dicts of them. NumPy numbers and arrays, paths, ``torch.device`` and objects with a
    ``to_dict()`` method (a ``History``) are converted; anything else raises a ``CheckpointError`` naming ``name``.
    """
    if isinstance(value, np.generic):  # first: numpy.float64 is also a float, but does not load back
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return value
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, (os.PathLike, torch.device, torch.dtype)):
        return str(value)
    if isinstance(value, dict):
        return {plain_value(k, name): plain_value(v, f"{name}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [plain_value(v, f"{name}[{i}]") for i, v in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    if callable(getattr(value, "to_dict", None)):
        return plain_value(value.to_dict(), name)
    raise CheckpointError(
        f"save_checkpoint: {name} is a {type(value).__module__}.{type(value).__name__}, which load_checkpoint "
        f"(torch.load with weights_only=True) cannot read back; give numbers, strings, lists, dicts or tensors")


def save_checkpoint(path: str | os.PathLike, model: nn.Module, **metadata) -> Path:
    """Save ``model``'s weights (on the CPU) and plain ``metadata`` (e.g. ``epoch=3, val_loss=0.41``) atomically.

    Written to a temporary file in the same folder, then renamed over ``path``: a crash mid-write never
    leaves a half-written checkpoint. Metadata is converted with ``plain_value`` first, so whatever saves
    also loads back with ``load_checkpoint`` (``weights_only=True``).
    """
    contents = {key: plain_value(value, key) for key, value in metadata.items()}
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    write_file(path, {"model": state, **contents})
    return Path(path)


# ----------------------------------------------------------------------------------------------- load
def read_checkpoint_file(path: Path, map_location="cpu") -> Any:
    """``torch.load(path, weights_only=True)``, with errors that name the file and the likely cause."""
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint file {path} is empty (0 bytes): its write never finished. "
                              "Save it again.")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if "GLOBAL" in str(err):
            raise CheckpointError(
                f"refused to load {path}: it holds Python objects other than tensors and plain values, and "
                "loading them could run code from the file (load_checkpoint uses torch.load(weights_only=True)). "
                "Only for a file you trust: torch.load(path, weights_only=False).") from err
        raise CheckpointError(f"{path} is not a checkpoint torch can read with weights_only=True (corrupt, or "
                              "not written by torch.save); nothing from it was run.") from err
    except Exception as err:  # torch's reader fails in many ways on a file that is not its own
        raise CheckpointError(f"checkpoint file {path} is not a checkpoint torch can read, or is truncated "
                              f"({type(err).__name__}: {err}). Save it again, or use an earlier copy.") from err


def load_checkpoint(path: str | os.PathLike, model: nn.Module | None = None, map_location="cpu") -> dict:
    """Load a checkpoint written by ``save_checkpoint`` with ``torch.load(weights_only=True)`` (no
    arbitrary code runs); when ``model`` is given its weights are replaced. Returns the whole dict."""
    path = Path(path)
    checkpoint = read_checkpoint_file(path, map_location)
    if not isinstance(checkpoint, dict) or "model" not in checkpoint:
        if isinstance(checkpoint, dict) and checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
            raise CheckpointError(
                f"{path} holds a bare state_dict (torch.save(model.state_dict())), not a checkpoint of "
                "save_checkpoint (a dict with a 'model' entry). Load it with "
                "model.load_state_dict(torch.load(path, weights_only=True)).")
        raise CheckpointError(f"{path} is not a checkpoint of save_checkpoint: it has no 'model' entry")
    if model is not None:
        try:
            model.load_state_dict(checkpoint["model"])
        except RuntimeError as err:
            raise CheckpointError(f"the weights in {path} do not fit model ({type(model).__name__}): {err}") from err
    return checkpoint
