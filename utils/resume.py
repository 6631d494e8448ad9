"""The run file of ``fit(..., checkpoint=path)``: the best weights, and everything needed to continue the run.

Explained in notebooks/06_putting_it_all_together.ipynb. One run, one file, rewritten atomically after every
epoch and loadable with ``torch.load(weights_only=True)``:

- ``model``, ``epoch``, ``monitor``, ``value``: the best epoch's weights, as ``load_checkpoint`` reads them;
- ``run``: the last epoch's weights, the optimizer's and scheduler's state, every random generator (torch,
  NumPy, Python, the training loader's shuffle), the History, and the run's settings (optimizer and its
  hyperparameters, scheduler, batch size, data size).

When the file exists, ``fit`` continues the run in it, and refuses (listing the differences) when this call's
settings are not the saved ones: resuming with another learning rate or data would silently be another run.
A file that is not a run file is never overwritten. The file has one writer: if another process rewrote it
since this run's last write, the next write is refused.
"""

from __future__ import annotations

import copy
import errno
import os
import random
from pathlib import Path

import numpy as np
import torch

from .checkpoints import CheckpointError, check_writable, plain_value, read_checkpoint_file, write_file

KIND = "utils.run/1"  # written into the file: a plain checkpoint or another program's file is refused


def rng_states(train_loader) -> dict:
    """The states of every random number generator the next epoch draws from, as tensors and plain values."""
    _, keys, position, has_gauss, gauss = np.random.get_state()
    generator = _loader_generator(train_loader)
    return {"torch": torch.get_rng_state(), "python": random.getstate(),
            "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                      "has_gauss": int(has_gauss), "gauss": float(gauss)},
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "loader": generator.get_state() if generator is not None else None}


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


def settings_of(model, optimizer, scheduler, train_loader, scheduler_interval: str, monitor: str) -> dict:
    """What makes a run this run: resuming under other settings is refused."""
    groups = [{k: plain_value(v.item() if isinstance(v, torch.Tensor) else v, k) for k, v in group.items()
               if k != "params" and (v is None or isinstance(v, (bool, int, float, str, tuple, torch.Tensor)))}
              for group in optimizer.param_groups]
    dataset = getattr(train_loader, "dataset", None)
    return {"model": type(model).__name__, "parameters": sum(p.numel() for p in model.parameters()),
            "optimizer": type(optimizer).__name__, "param_groups": groups,
            "scheduler": type(scheduler).__name__ if scheduler is not None else None,
            "scheduler_interval": scheduler_interval if scheduler is not None else None,
            "batch_size": getattr(train_loader, "batch_size", None),
            "train_samples": len(dataset) if hasattr(dataset, "__len__") else None,
            "steps_per_epoch": len(train_loader) if hasattr(train_loader, "__len__") else None,
            "best_by": monitor}  # val_loss with a validation loader, train_loss without


def differences(saved, now, name: str = "") -> list[str]:
    """``"name: saved X, now Y"`` for every setting that differs (nested dicts and lists compared entry by entry)."""
    if isinstance(saved, dict) and isinstance(now, dict):
        return [d for key in sorted(set(saved) | set(now), key=str)
                for d in differences(saved.get(key), now.get(key), f"{name}.{key}" if name else str(key))]
    if isinstance(saved, (list, tuple)) and isinstance(now, (list, tuple)) and len(saved) == len(now) \
            and any(isinstance(v, dict) for v in saved):
        return [d for i, (a, b) in enumerate(zip(saved, now)) for d in differences(a, b, f"{name}[{i}]")]
    same = list(saved) == list(now) if isinstance(saved, (list, tuple)) and isinstance(now, (list, tuple)) \
        else saved == now
    return [] if same else [f"{name}: saved {saved!r}, now {now!r}"]


def _stamp(path: Path):
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class RunFile:
    """``fit``'s ``checkpoint``: checked before the first step, read if it exists, rewritten after every epoch."""

    def __init__(self, path: str | os.PathLike, model, optimizer, scheduler, train_loader, scheduler_interval: str,
                 monitor: str = "val_loss"):
        if not isinstance(path, (str, os.PathLike)):
            raise ValueError(f"checkpoint must be a file path (a str or pathlib.Path), got {path!r}")
        self.path = Path(path)
        check_writable(self.path, "checkpoint")
        self.objects = model, optimizer, scheduler, train_loader
        self.settings = settings_of(model, optimizer, scheduler, train_loader, scheduler_interval, monitor)
        self.saved, self.stamp = None, _stamp(self.path)  # None: no file yet, and none may appear but ours
        if self.path.exists():
            state = read_checkpoint_file(self.path)
            if not (isinstance(state, dict) and state.get("kind") == KIND and isinstance(state.get("run"), dict)):
                raise CheckpointError(f"checkpoint {self.path} exists and is not a run file of fit; it is left "
                                      "alone: give another path, or delete the file")
            try:
                changed = differences(state["run"]["settings"], self.settings)
            except KeyError as err:
                raise CheckpointError(f"checkpoint {self.path} is an incomplete run file (no {err})") from err
            if changed:
                raise CheckpointError(f"checkpoint {self.path} holds a run with other settings ("
                                      + "; ".join(changed) + "): continue it with the saved settings, or give "
                                      "another path to start a new run")
            self.saved, self.stamp = state, _stamp(self.path)

    def restore(self, history, best: dict, device) -> int:
        """Load the saved run into this run's objects and History; the last finished epoch (0: nothing saved)."""
        if self.saved is None:
            return 0
        model, optimizer, scheduler, train_loader = self.objects
        before = [(o, copy.deepcopy(o.state_dict())) for o in (model, optimizer, scheduler) if o is not None]
        try:
            run = self.saved["run"]
            model.load_state_dict(run["model"])
            optimizer.load_state_dict(run["optimizer"])
            if scheduler is not None:
                scheduler.load_state_dict(run["scheduler"])
            set_rng_states(run["rng"], train_loader)
            saved = run["history"]
            history.step_loss, history.epochs, history.notes = saved["step_loss"], saved["epochs"], saved["notes"]
            history.best_epoch, history.best_value = saved["best_epoch"], saved["best_value"]
            best["value"], best["state"] = saved["best_value"], {k: v.to(device) for k, v in
                                                                 self.saved["model"].items()}
            epoch = int(run["epoch"])
        except (RuntimeError, ValueError, KeyError, TypeError, AttributeError) as err:
            for o, state in before:  # a refused file leaves the caller's objects as they were
                o.load_state_dict(state)
            raise CheckpointError(f"the run in {self.path} does not fit this model, optimizer or scheduler "
                                  f"({type(err).__name__}: {err})") from err
        history.notes.append(f"continued the run in {self.path} after epoch {epoch}")
        return epoch

    def save(self, epoch: int, history, best: dict) -> None:
        model, optimizer, scheduler, train_loader = self.objects
        if _stamp(self.path) != self.stamp:
            raise OSError(errno.EBUSY, f"{self.path} was rewritten by someone else since this run's last write "
                                       "(two runs on one checkpoint?); give each run its own path", str(self.path))
        state = {"kind": KIND, "model": best["state"], "epoch": history.best_epoch, "monitor": history.monitor,
                 "value": history.best_value,
                 "run": {"epoch": epoch, "settings": self.settings, "model": model.state_dict(),
                         "optimizer": optimizer.state_dict(),
                         "scheduler": scheduler.state_dict() if scheduler is not None else None,
                         "rng": rng_states(train_loader), "history": history.to_dict()}}
        write_file(self.path, plain_value(state, "checkpoint"))
        self.stamp = _stamp(self.path)
