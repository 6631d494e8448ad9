"""Quick, comparable training runs: the plain functions behind the hyperparameter explorer.

Explained in notebooks/05_hyperparameters.ipynb. Everything the explorer widget (``utils.widgets``) does
can be done with these functions alone::

    data = explorer_data(splits)                       # a small subset, kept on the device
    history = run_experiment(data, lr=0.1, batch_size=64, epochs=5, optimizer="sgd", seed=0)
"""

from __future__ import annotations

import contextlib

import torch
from torch.utils.data import TensorDataset

from .checks import hooks_list, positive_int
from .data import Splits, TensorLoader, subset
from .device import pick_device
from .events import DivergenceGuard
from .models import MLP
from .seeding import seed_everything
from .threads import thread_count
from .training import History, LogHook, fit

DEFAULT_PER_CLASS = 200  # 2,000 training samples on FashionMNIST: a 5-epoch run takes about a second
DEFAULT_VAL_SIZE = 1000
DEFAULT_HIDDEN = 128
DIVERGE_FACTOR = 4.0  # a step loss above 4x the first one counts as diverged (lr_find uses the same factor, but
# against its smoothed loss's best so far, not the first step)


def explorer_data(splits: Splits, *, per_class: int = DEFAULT_PER_CLASS, val_size: int = DEFAULT_VAL_SIZE,
                  device: torch.device | str | None = None) -> Splits:
    """A small copy of ``splits`` for quick experiments: ``per_class`` training samples of every class
    (fewer if a class has fewer) and the first ``val_size`` validation samples, moved to ``device``.

    The test split is left as it is: experiments compare settings on validation, never on test.
    """
    per_class = positive_int(per_class, "per_class")
    val_size = positive_int(val_size, "val_size")
    device = pick_device(device)
    labels = splits.train.tensors[1]
    if not len(labels) or not len(splits.val):
        raise ValueError(f"splits must have training and validation samples, got {splits!r}")
    smallest_class = int(torch.bincount(labels).min())
    train = subset(splits.train, per_class=max(1, min(per_class, smallest_class)))
    val = subset(splits.val, n=min(val_size, len(splits.val)))

    def on_device(ds: TensorDataset) -> TensorDataset:
        return TensorDataset(*(t.to(device) for t in ds.tensors))

    return Splits(name=splits.name, train=on_device(train), val=on_device(val), test=splits.test,
                  classes=list(splits.classes), input_shape=splits.input_shape,
                  fallback_reason=splits.fallback_reason)


def run_label(lr: float, batch_size: int, epochs: int, optimizer: str) -> str:
    """How a run is named in legends, e.g. ``"sgd lr=0.1 bs=64 ep=5"``."""
    return f"{optimizer} lr={lr:.2g} bs={batch_size} ep={epochs}"


@contextlib.contextmanager
def cpu_threads(n: int | None, device: torch.device | str):
    """Within the block, torch uses ``n`` CPU threads when ``device`` is the CPU (``None``: the series'
    thread policy, ``utils.threads.thread_count()``); the previous number is restored afterwards."""
    n = thread_count() if n is None else positive_int(n, "threads")
    before = torch.get_num_threads()
    change = torch.device(device).type == "cpu" and n != before
    if change:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if change:
            torch.set_num_threads(before)


def run_experiment(splits: Splits, lr: float = 0.1, batch_size: int = 64, epochs: int = 5, optimizer: str = "sgd",
                   seed: int = 0, *, hidden: int = DEFAULT_HIDDEN, device: torch.device | str | None = None,
                   log: LogHook | None = None, label: str | None = None,
                   threads: int | None = None) -> History:
    """Train a fresh ``MLP`` (``hidden`` units) on ``splits.train`` and validate on ``splits.val``.

    Every hyperparameter is an argument: nothing is read from outside. The same ``seed`` gives the same
    initial weights and the same batch order, so two runs differ only in the settings you changed.
    ``log`` receives what ``fit`` logs (e.g. a ``LivePlot``'s ``log``). A run whose loss blows up (not
    finite, or above ``DIVERGE_FACTOR`` x the first step's loss) is stopped by a ``DivergenceGuard``
    (``history.diverged``, ``history.message``); no exception is raised.
    Pass ``explorer_data(splits)`` for runs of about a second. As with ``fit``, an interrupted run returns its
    History (marked ``interrupted``) in a notebook and raises in a script.

    On the CPU the run uses ``threads`` threads; the default ``None`` follows the series' thread policy
    (``utils.threads``: one thread unless ``OPTIM_THREADS`` says otherwise). Batches of a small MLP are too
    small to share between threads with profit, and when the CPU is also busy with something else (the
    browser drawing the plot) every step waits until all threads got a turn: benchmarks/bench_explorer.py
    measured runs several times slower with 2 threads than with 1.
    """
    device = pick_device(device)
    seed_everything(seed)
    model = MLP(splits.input_shape, splits.num_classes, hidden=positive_int(hidden, "hidden"))
    train_loader = TensorLoader(splits.train, batch_size, shuffle=True, seed=seed, device=device)
    val_loader = TensorLoader(splits.val, max(positive_int(batch_size, "batch_size"), 1000), device=device)
    with cpu_threads(threads, device):
        history = fit(model, train_loader, val_loader, epochs=epochs, optimizer=optimizer, lr=lr, device=device,
                      log=[*hooks_list(log), DivergenceGuard(DIVERGE_FACTOR)])
    history.label = label if label is not None else run_label(lr, batch_size, epochs, optimizer)
    return history
