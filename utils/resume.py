"""Resumable training: a file from which ``fit(..., resume=path)`` continues a run exactly where it stopped.

Explained in notebooks/06_putting_it_all_together.ipynb. A best-weights checkpoint (``utils.checkpoints``)
is enough to *use* a model; to *continue training* as if nothing had happened, ``fit`` needs everything
that decides the next step: the weights, the optimizer's state (momentum, Adam's averages), the
scheduler's position, the random number generators (torch, NumPy, Python: dropout, shuffling) and the
training loader's own shuffle generator, the epoch and step counters, the History and the best epoch so
far. ``ResumePoint`` writes all of it after every finished epoch, atomically, as tensors and plain values
only, so it loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from .checkpoints import CheckpointError, atomic_write, check_writable, plain_value, read_checkpoint_file

KIND = "utils.resume/1"  # written into the file: a plain checkpoint or another program's file is refused


def rng_states(train_loader) -> dict:
    """The states of every random number generator the next epoch draws from, as tensors and plain values."""
    _, keys, position, has_gauss, gauss = np.random.get_state()
    states = {"torch": torch.get_rng_state(), "python": random.getstate(),
              "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                        "has_gauss": int(has_gauss), "gauss": float(gauss)},
              "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
              "loader": None}
    generator = _loader_generator(train_loader)
    if generator is not None:
        states["loader"] = generator.get_state()
    return states


def set_rng_states(states: dict, train_loader) -> None:
    torch.set_rng_state(states["torch"])
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))
    n = states["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["position"], n["has_gauss"], n["gauss"]))
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    generator = _loader_generator(train_loader)
    if generator is not None and states["loader"] is not None:
        generator.set_state(states["loader"])


def _loader_generator(loader) -> torch.Generator | None:
    """The shuffle generator of a ``TensorLoader`` (``.generator``) or a ``DataLoader``'s sampler, if any."""
    for owner in (loader, getattr(loader, "sampler", None)):
        generator = getattr(owner, "generator", None)
        if isinstance(generator, torch.Generator):
            return generator
    return None


class ResumePoint:
    """The file ``fit(..., resume=path)`` continues from and rewrites after every finished epoch.

    The path is checked when the object is made (a ``ValueError`` naming ``resume``). ``save`` writes the
    state of the run; ``restore`` loads it into a freshly built model, optimizer, scheduler and loader
    (built as for the first run) and returns the state ``fit`` continues from.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        check_writable(self.path, "resume")

    def exists(self) -> bool:
        return self.path.is_file()

    def save(self, *, model, optimizer, scheduler, train_loader, epoch: int, steps: int, history, best_value,
             best_state, first_loss) -> None:
        state = {
            "kind": KIND, "epoch": epoch, "steps": steps, "first_loss": first_loss,
            "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "rng": rng_states(train_loader), "history": history.to_dict(),
            "best_value": best_value, "best_state": best_state,
        }
        state = plain_value(state, "resume state")
        with atomic_write(self.path, "wb") as f:
            torch.save(state, f)

    def restore(self, *, model, optimizer, scheduler, train_loader, device) -> dict:
        """Load the saved run into these objects; returns the saved dict (epoch, steps, history, best_...)."""
        state = read_checkpoint_file(self.path, map_location="cpu")
        if not isinstance(state, dict) or state.get("kind") != KIND:
            raise CheckpointError(f"{self.path} is not a resume file of fit(..., resume=...); a checkpoint of "
                                  "save_checkpoint holds weights only and cannot resume a run")
        try:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as err:
            raise CheckpointError(f"the run saved in {self.path} does not fit this model/optimizer "
                                  f"({type(model).__name__}, {type(optimizer).__name__}): {err}") from err
        if (state["scheduler"] is None) != (scheduler is None):
            raise CheckpointError(f"{self.path} was saved {'without' if state['scheduler'] is None else 'with'} "
                                  "a scheduler; resume with the same set-up as the first run")
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        set_rng_states(state["rng"], train_loader)
        if state["best_state"] is not None:
            state["best_state"] = {k: v.to(device) for k, v in state["best_state"].items()}
        return state
