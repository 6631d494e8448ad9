"""Shared code of the "Optimizing Model Parameters" notebooks.

One direction: data -> loader -> fit -> History -> plots and widgets. Each module's docstring names the
notebook that explains it.
"""

from __future__ import annotations

import platform

from .checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from .claims import ClaimFailed, claim
from .data import (
    DatasetFallbackWarning,
    DatasetFileError,
    Loaders,
    Splits,
    TensorLoader,
    load_dataset,
    make_loaders,
    subset,
)
from .device import autocast_bf16, bf16_supported, describe_device, pick_device, to_device
from .events import Diverged, DivergenceGuard, StopTraining
from .experiments import explorer_data, run_experiment
from .models import MLP, SmallCNN, count_parameters, make_model
from .plotting import LivePlot, in_notebook, plot_history, plot_runs, smooth
from .seeding import seed_everything
from .threads import apply_thread_policy, describe_threads
from .training import (
    EpochResult,
    History,
    evaluate,
    fit,
    make_optimizer,
    train_one_epoch,
)
from .widgets import HyperparameterExplorer  # ipywidgets itself is imported only when one is built

__all__ = [
    "CheckpointError", "ClaimFailed", "claim", "DatasetFallbackWarning", "Diverged", "DivergenceGuard", "DatasetFileError", "EpochResult", "History", "HyperparameterExplorer", "LivePlot",
    "Loaders", "MLP", "SmallCNN", "Splits", "StopTraining", "TensorLoader", "autocast_bf16", "bf16_supported", "count_parameters",
    "describe_device", "evaluate", "fit", "load_checkpoint", "load_dataset", "make_loaders", "make_model",
    "make_optimizer", "pick_device", "plot_history", "plot_runs", "save_checkpoint", "seed_everything", "setup",
    "smooth", "subset", "to_device", "train_one_epoch", "explorer_data", "run_experiment",
]


def setup(seed: int = 0, device: str | None = None, verbose: bool = True):
    """The first call of every notebook: seed everything, pick the device, set the CPU threads, print versions.

    Returns the chosen ``torch.device``. Explained in notebooks/00_start_here.ipynb.
    """
    import torch
    import torchvision

    # The first optimizer of a process imports torch._dynamo, sympy and more (seconds): done here, not in the
    # first fit, where the Stop button could cut the imports short and leave torch half-imported.
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    seed_everything(seed)
    chosen = pick_device(device)
    threads = apply_thread_policy()  # one CPU thread for the series' small models: see utils/threads.py
    if in_notebook():  # figures returned by utils (plot_history, plot_runs, ...) render as images
        from IPython import get_ipython

        get_ipython().run_line_magic("matplotlib", "inline")
    if verbose:
        print(f"Python {platform.python_version()} | torch {torch.__version__} | torchvision {torchvision.__version__}")
        print(f"device: {describe_device(chosen)} | seed: {seed} | {describe_threads(threads)}")
    return chosen
