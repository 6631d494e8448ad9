"""Learning-rate schedules: a warmup schedule built on ``LambdaLR``, a schedule's curve without training,
and a plot of several curves.

Explained in notebooks/04_optimizers.ipynb. Every ``torch.optim.lr_scheduler`` object works the same
way: it holds the optimizer, and each ``scheduler.step()`` writes a new learning rate into
``optimizer.param_groups``; ``scheduler.get_last_lr()`` reads the current one back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from torch.optim.lr_scheduler import LambdaLR

from .checks import integer

SchedulerFactory = Callable[[torch.optim.Optimizer], object]
DECAYS = ("none", "linear", "cosine")


def _check_int(value, argument: str, minimum: int) -> None:
    integer(value, argument, minimum=minimum)


def warmup_factor(step: int, warmup_steps: int, total_steps: int | None = None, decay: str = "none",
                  min_factor: float = 0.0) -> float:
    """The multiplier of the base learning rate at ``step`` (0, 1, 2, ...).

    Linear warmup: ``(step + 1) / warmup_steps`` for the first ``warmup_steps`` steps (never 0, so the
    first step already learns), then 1. With ``decay="linear"`` or ``"cosine"`` the factor then falls
    from 1 to ``min_factor`` at ``total_steps`` and stays there.
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if decay == "none":
        return 1.0
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    shape = 1 - progress if decay == "linear" else 0.5 * (1 + math.cos(math.pi * progress))
    return min_factor + (1 - min_factor) * shape


def linear_warmup(optimizer: torch.optim.Optimizer, warmup_steps: int, *, total_steps: int | None = None,
                  decay: str = "none", min_factor: float = 0.0) -> LambdaLR:
    """A ``LambdaLR`` that warms the learning rate up linearly over ``warmup_steps`` steps.

    Afterwards the learning rate stays at the optimizer's ``lr`` (``decay="none"``), or decays
    (``"linear"``, ``"cosine"``) to ``min_factor * lr`` at ``total_steps``. Step it once per optimizer
    step (``fit(..., scheduler=..., scheduler_interval="step")``).
    """
    _check_int(warmup_steps, "warmup_steps", 1)
    if decay not in DECAYS:
        raise ValueError(f"decay must be one of {', '.join(DECAYS)}, got {decay!r}")
    if decay != "none":
        if total_steps is None:
            raise ValueError(f"total_steps is required with decay={decay!r} (the step where the decay ends)")
        _check_int(total_steps, "total_steps", warmup_steps + 1)
    if not 0 <= min_factor <= 1:
        raise ValueError(f"min_factor must be in [0, 1], got {min_factor!r}")
    return LambdaLR(optimizer, lambda step: warmup_factor(step, warmup_steps, total_steps, decay, min_factor))


def lr_curve(make_scheduler: SchedulerFactory, steps: int, lr: float = 0.1) -> np.ndarray:
    """The learning rate a schedule gives at steps 0 .. ``steps - 1``, without training anything.

    ``make_scheduler(optimizer)`` builds the scheduler for a throwaway SGD optimizer whose ``lr`` is
    ``lr``. Each step records ``scheduler.get_last_lr()[0]`` (the rate the next optimizer step will use),
    then calls ``optimizer.step()`` and ``scheduler.step()``, in that order, as in training.
    """
    _check_int(steps, "steps", 1)
    if not lr > 0:
        raise ValueError(f"lr must be a number > 0, got {lr!r}")
    weight = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=lr)
    scheduler = make_scheduler(optimizer)
    if not hasattr(scheduler, "get_last_lr"):
        raise ValueError("make_scheduler must return a torch.optim.lr_scheduler object (with get_last_lr())")
    rates = []
    for _ in range(steps):
        rates.append(scheduler.get_last_lr()[0])
        optimizer.step()  # no gradient: nothing changes, but the scheduler sees the usual call order
        scheduler.step()
    return np.array(rates)


def plot_lr_curves(curves: dict[str, Sequence[float]], *, xlabel: str = "optimizer step", title: str = "",
                   log_scale: bool = False) -> Figure:
    """One small panel per schedule, learning rate against step."""
    if not curves:
        raise ValueError("curves must hold at least one schedule (name -> learning rates)")
    fig = Figure(figsize=(3.0 * len(curves), 2.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(curves), sharey=not log_scale))
    for ax, (name, rates) in zip(axes, curves.items()):
        ax.plot(np.arange(len(rates)), rates, color="tab:blue")
        ax.set(title=name, xlabel=xlabel)
        if log_scale:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("learning rate")
    if title:
        fig.suptitle(title)
    return fig
