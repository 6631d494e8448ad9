"""The learning-rate range test: raise the learning rate step by step and watch the loss.

Explained in notebooks/05_hyperparameters.ipynb. One short sweep (one to a few hundred batches) replaces
a grid of full training runs: the learning rate grows exponentially from ``start_lr`` to ``end_lr``, one
optimizer step per batch, and the smoothed loss is recorded. Where it falls fastest the learning rate is
useful; where it rises past 4x the best value the sweep stops (a network whose units die on the large
steps may instead stay near the loss of guessing up to ``end_lr``). The model, the optimizer, the
loader's shuffle and torch's random number generators are put back exactly as they were, so the sweep
leaves no trace: the training run that follows is the one you would have had without it.
Interrupting the kernel (Stop) ends the sweep and returns what it recorded; in a script Ctrl-C still
ends the program (after the restore).
"""

from __future__ import annotations

import contextlib
import copy
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from . import training
from .checks import finite_number, integer, one_of
from .device import pick_device, to_device
from .training import check_lr, check_optimizer_matches, make_optimizer


@dataclass
class LRFindResult:
    """What ``lr_find`` recorded: one learning rate and loss per step (``smoothed`` is the moving average
    with bias correction, as ``utils.smooth``), the ``suggestion``, and why the sweep ended."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float
    lr_min_loss: float
    stop_reason: str

    def plot(self, ax=None) -> Figure:
        """Loss against learning rate on a log x-axis, the suggestion marked."""
        if ax is None:
            fig = Figure(figsize=(7, 3.6), layout="constrained")
            ax = fig.subplots()
        else:
            fig = ax.figure
        ax.plot(self.lrs, self.losses, color="tab:blue", alpha=0.25, linewidth=0.8, label="loss of each batch")
        ax.plot(self.lrs, self.smoothed, color="tab:blue", linewidth=1.8, label="smoothed")
        ax.axvline(self.lr_min_loss, color="gray", linestyle=":", label=f"lowest smoothed loss: lr {self.lr_min_loss:.2g}")
        ax.axvline(self.suggestion, color="tab:red", linestyle="--", label=f"suggestion (a tenth): lr {self.suggestion:.2g}")
        ax.set_xscale("log")
        finite = [v for v in self.smoothed if math.isfinite(v)]
        if finite and max(finite) > min(finite):  # the top from the smoothed curve; the bottom shows every batch
            low, high = min(finite + [v for v in self.losses if math.isfinite(v)]), max(finite)
            ax.set_ylim(low - 0.1 * (high - low), high + 0.1 * (high - low))
        ax.set(xlabel="learning rate (log scale)", ylabel="training loss", title=f"learning-rate range test ({self.stop_reason})")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
        return fig


def lr_schedule(start_lr: float, end_lr: float, num_steps: int) -> np.ndarray:
    """``num_steps`` learning rates from ``start_lr`` to ``end_lr``, each a constant factor above the last."""
    return start_lr * (end_lr / start_lr) ** (np.arange(num_steps) / max(num_steps - 1, 1))


def suggest_lr(lrs: Sequence[float], smoothed: Sequence[float]) -> float:
    """A tenth of the learning rate where the smoothed loss is lowest.

    At the minimum the learning rate is already about to be too large; a tenth of it sits on the steep,
    useful part of the curve. Non-finite losses are ignored; when none is finite there is nothing to
    suggest and a ``ValueError`` says so.
    """
    if len(lrs) != len(smoothed) or not len(lrs):
        raise ValueError(f"lrs and smoothed must be non-empty and of equal length, got {len(lrs)} and {len(smoothed)}")
    return float(lrs[_lowest(smoothed)]) / 10


def _lowest(values: Sequence[float]) -> int:
    """Index of the smallest finite value; a ``ValueError`` when none is finite."""
    values = np.asarray(values, dtype=float)
    if not np.isfinite(values).any():
        raise ValueError("no loss of the sweep is finite, so there is no learning rate to suggest: check the data "
                         "(NaN or infinite inputs?), the model and the loss, or start the sweep at a smaller lr")
    return int(np.argmin(np.where(np.isfinite(values), values, np.inf)))


def _generators(loader: Iterable) -> list[torch.Generator]:
    """The random generators that decide ``loader``'s shuffle (``TensorLoader``, ``DataLoader``, ...)."""
    found = [getattr(loader, "generator", None), getattr(getattr(loader, "sampler", None), "generator", None)]
    return [g for g in found if isinstance(g, torch.Generator)]


@contextlib.contextmanager
def _no_trace(loader: Iterable, device: torch.device) -> Iterator[None]:
    """Put back the loader's shuffle generators and torch's global RNG (CPU, and the GPU in use) afterwards."""
    saved = [(g, g.get_state()) for g in _generators(loader)]
    devices = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        for generator, state in saved:
            generator.set_state(state)


def _batches(loader: Iterable):
    """Batches from ``loader`` forever, starting a new pass when one ends."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("the loader yields no batches")



def check_on_interrupt(on_interrupt: str) -> str:
    """``"return"`` or ``"raise"``; ``"auto"`` is ``"return"`` in a Jupyter notebook, else ``"raise"``."""
    one_of(on_interrupt, "on_interrupt", ("auto", "return", "raise"))
    return ("return" if training.in_notebook() else "raise") if on_interrupt == "auto" else on_interrupt

def lr_find(model: nn.Module, loader: Iterable, optimizer: torch.optim.Optimizer | str = "sgd", *,
            loss_fn: nn.Module | None = None, start_lr: float = 1e-6, end_lr: float = 10.0, num_steps: int = 100,
            smoothing: float = 0.9, diverge_factor: float = 4.0, device: torch.device | str | None = None,
            on_interrupt: str = "auto") -> LRFindResult:
    """Run the learning-rate range test on ``model`` with batches from ``loader``.

    ``optimizer``: a name (see ``utils.make_optimizer``) or an optimizer you built for ``model`` (its
    other settings, such as momentum, are kept; only the learning rate is swept). Step ``i`` of
    ``num_steps`` uses ``lr_schedule(start_lr, end_lr, num_steps)[i]``. The sweep stops early when the
    loss is not finite or the smoothed loss exceeds ``diverge_factor`` x the lowest so far. Afterwards the
    weights, the optimizer's state (momentum buffers, learning rate), train/eval mode, the loader's
    shuffle generator and torch's random number generators are restored.

    A sweep without a single finite loss raises ``ValueError`` (there is nothing to suggest); a sweep
    whose lowest loss is its first step warns that the suggestion lies below the swept range. An
    optimizer built on another model's parameters is refused (``utils.training.check_optimizer_matches``).

    Interrupting the kernel ends the sweep with everything restored. ``on_interrupt`` works as in
    ``utils.fit``: ``"return"`` gives back the result so far (``stop_reason`` starts with "interrupted"),
    ``"raise"`` re-raises the ``KeyboardInterrupt`` (with the result as its ``.result``), and ``"auto"``
    (default) returns in a notebook and raises in a script, where Ctrl-C must still end the program.
    """
    check_lr(start_lr, "start_lr")
    check_lr(end_lr, "end_lr")
    if end_lr <= start_lr:
        raise ValueError(f"end_lr must be larger than start_lr, got start_lr={start_lr:g}, end_lr={end_lr:g}")
    num_steps = integer(num_steps, "num_steps", minimum=2)
    smoothing = finite_number(smoothing, "smoothing", low=0, high=1, high_open=True, example="0.9")
    on_interrupt = check_on_interrupt(on_interrupt)
    if isinstance(diverge_factor, bool) or not diverge_factor > 1:  # inf is allowed: never stop on the rise
        raise ValueError(f"diverge_factor must be a number > 1, got {diverge_factor!r}")
    device = pick_device(device)
    model.to(device)
    if isinstance(optimizer, str):
        optimizer = make_optimizer(optimizer, model.parameters(), start_lr)
    check_optimizer_matches(model, optimizer)
    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss()

    saved_model = copy.deepcopy(model.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    was_training = model.training
    lrs, losses, smoothed = [], [], []
    stop_reason, interrupt = f"reached lr {end_lr:g}", None
    try:
        with _no_trace(loader, device):
            stop_reason = _sweep(model, loader, optimizer, loss_fn, lr_schedule(start_lr, end_lr, num_steps),
                                 smoothing, diverge_factor, device, lrs, losses, smoothed) or stop_reason
    except KeyboardInterrupt as err:  # the learner pressed Stop
        if not lrs:
            raise
        interrupt, stop_reason = err, f"interrupted at lr {lrs[-1]:.2g}"
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
        model.train(was_training)
    if interrupt is not None and on_interrupt == "raise":
        interrupt.result = _result(lrs, losses, smoothed, stop_reason) if np.isfinite(smoothed).any() else None
        raise interrupt
    return _result(lrs, losses, smoothed, stop_reason)


def _result(lrs: list[float], losses: list[float], smoothed: list[float], stop_reason: str) -> LRFindResult:
    lowest = _lowest(smoothed)
    if lowest == 0 and len(lrs) > 1:
        warnings.warn(f"the lowest smoothed loss is at the first learning rate ({lrs[0]:.2g}), so the suggestion "
                      f"({lrs[0] / 10:.2g}) lies below the swept range: start the sweep at a smaller start_lr",
                      stacklevel=3)
    return LRFindResult(lrs=lrs, losses=losses, smoothed=smoothed, suggestion=float(lrs[lowest]) / 10,
                        lr_min_loss=lrs[lowest], stop_reason=stop_reason)


def _sweep(model, loader, optimizer, loss_fn, schedule, smoothing, diverge_factor, device, lrs, losses, smoothed):
    """The loop of the range test: one step per learning rate, appending to ``lrs``, ``losses`` and
    ``smoothed``. Returns why it stopped early, or ``None`` when it reached the end of ``schedule``."""
    average, best = 0.0, math.inf
    model.train()
    for i, (lr, (x, y)) in enumerate(zip(schedule, _batches(loader))):
        for group in optimizer.param_groups:
            group["lr"] = float(lr)
        x, y = to_device(x, device), to_device(y, device)
        loss = loss_fn(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        value = loss.item()  # one read-back per step: the stopping rule needs the number
        lrs.append(float(lr))
        losses.append(value)
        if not math.isfinite(value):
            smoothed.append(math.inf)
            return f"loss not finite at lr {lr:.2g}"
        average = smoothing * average + (1 - smoothing) * value
        smoothed.append(average / (1 - smoothing ** (i + 1)))  # bias correction: no slow start from 0
        best = min(best, smoothed[-1])
        if smoothed[-1] > diverge_factor * best:
            return f"loss above {diverge_factor:g}x its best at lr {lr:.2g}"
    return None
