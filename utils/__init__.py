"""Shared code of the "Optimizing Model Parameters" notebooks.

One direction: data -> loader -> fit -> History -> plots and widgets. Each module's docstring names the
notebook that explains it.
"""

from __future__ import annotations

import platform

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
from .models import MLP, SmallCNN, count_parameters, make_model
from .plotting import LivePlot, in_notebook, plot_history, plot_runs, smooth
from .seeding import seed_everything
from .training import (
    EpochResult,
    History,
    evaluate,
    fit,
    load_checkpoint,
    make_optimizer,
    save_checkpoint,
    train_one_epoch,
)

__all__ = [
    "DatasetFallbackWarning", "DatasetFileError", "EpochResult", "History", "LivePlot", "Loaders", "MLP",
    "SmallCNN", "Splits", "TensorLoader", "autocast_bf16", "bf16_supported", "count_parameters",
    "describe_device", "evaluate", "fit", "load_checkpoint", "load_dataset", "make_loaders", "make_model",
    "make_optimizer", "pick_device", "plot_history", "plot_runs", "save_checkpoint", "seed_everything", "setup",
    "smooth", "subset", "to_device", "train_one_epoch",
]


def setup(seed: int = 0, device: str | None = None, verbose: bool = True):
    """The first call of every notebook: seed everything, pick the device, print versions.

    Returns the chosen ``torch.device``. Explained in notebooks/00_start_here.ipynb.
    """
    import torch
    import torchvision

    seed_everything(seed)
    chosen = pick_device(device)
    if in_notebook():  # figures returned by utils (plot_history, plot_runs, ...) render as images
        from IPython import get_ipython

        get_ipython().run_line_magic("matplotlib", "inline")
    if verbose:
        print(f"Python {platform.python_version()} | torch {torch.__version__} | torchvision {torchvision.__version__}")
        print(f"device: {describe_device(chosen)} | seed: {seed}")
    return chosen
