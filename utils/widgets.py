"""The hyperparameter explorer: sliders for learning rate, batch size and epochs over plain functions.

Explained in notebooks/05_hyperparameters.ipynb. The widget is a thin layer: a click on Train reads the
controls and calls ``run_experiment``, which calls ``utils.fit``; the picture and the message come from
the ``History`` it returns. Everything the widget does can be done without it::

    data = explorer_data(splits)                       # a small subset, kept on the device
    history = run_experiment(data, lr=0.1, batch_size=64, epochs=5, optimizer="sgd", seed=0)
"""

from __future__ import annotations

import contextlib
import html
import math

import torch
from torch.utils.data import TensorDataset

from .data import Splits, TensorLoader, subset
from .device import pick_device
from .models import MLP
from .plotting import LivePlot
from .seeding import seed_everything
from .training import OPTIMIZERS, History, LogHook, fit

LR_EXPONENTS = (-5, 1)  # the learning-rate slider runs from 1e-5 to 10 on a log scale
BATCH_SIZES = tuple(2**k for k in range(3, 11))  # 8, 16, ..., 1024
DEFAULT_PER_CLASS = 200  # 2,000 training samples on FashionMNIST: a 5-epoch run takes about a second
DEFAULT_VAL_SIZE = 1000
DEFAULT_HIDDEN = 128
MAX_EPOCHS = 20
DIVERGE_FACTOR = 4.0  # a step loss above 4x the first one counts as diverged (as in lr_find)
CPU_THREADS = 1  # see run_experiment: small models train fastest on one CPU thread


# ----------------------------------------------------------------------------------------------- plain functions
def explorer_data(splits: Splits, *, per_class: int = DEFAULT_PER_CLASS, val_size: int = DEFAULT_VAL_SIZE,
                  device: torch.device | str | None = None) -> Splits:
    """A small copy of ``splits`` for quick experiments: ``per_class`` training samples of every class
    (fewer if a class has fewer) and the first ``val_size`` validation samples, moved to ``device``.

    The test split is left as it is: experiments compare settings on validation, never on test.
    """
    for name, value in (("per_class", per_class), ("val_size", val_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    device = pick_device(device)
    labels = splits.train.tensors[1]
    smallest_class = int(torch.bincount(labels).min()) if len(labels) else 0
    train = subset(splits.train, per_class=min(per_class, smallest_class))
    val = subset(splits.val, n=min(val_size, len(splits.val)))

    def on_device(ds: TensorDataset) -> TensorDataset:
        return TensorDataset(*(t.to(device) for t in ds.tensors))

    return Splits(name=splits.name, train=on_device(train), val=on_device(val), test=splits.test,
                  classes=list(splits.classes), input_shape=splits.input_shape,
                  fallback_reason=splits.fallback_reason, notes=list(splits.notes))


def run_label(lr: float, batch_size: int, epochs: int, optimizer: str) -> str:
    """How a run is named in legends, e.g. ``"sgd lr=0.1 bs=64 ep=5"``."""
    return f"{optimizer} lr={lr:.2g} bs={batch_size} ep={epochs}"


@contextlib.contextmanager
def cpu_threads(n: int | None, device: torch.device):
    """Within the block, torch uses ``n`` CPU threads when ``device`` is the CPU (``None``: leave it as is);
    the previous number is restored afterwards."""
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"threads must be a positive integer or None, got {n!r}")
    before = torch.get_num_threads()
    change = n is not None and device.type == "cpu" and n != before
    if change:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if change:
            torch.set_num_threads(before)


def run_experiment(splits: Splits, lr: float = 0.1, batch_size: int = 64, epochs: int = 5, optimizer: str = "sgd",
                   seed: int = 0, *, hidden: int = DEFAULT_HIDDEN, device: torch.device | str | None = None,
                   log: LogHook | None = None, label: str | None = None, log_every: int = 10,
                   threads: int | None = CPU_THREADS) -> History:
    """Train a fresh ``MLP`` (``hidden`` units) on ``splits.train`` and validate on ``splits.val``.

    Every hyperparameter is an argument: nothing is read from outside. The same ``seed`` gives the same
    initial weights and the same batch order, so two runs differ only in the settings you changed.
    ``log`` receives what ``fit`` logs (e.g. a ``LivePlot``'s ``log``). A run whose loss blows up (not
    finite, or above ``DIVERGE_FACTOR`` x the first step's loss) is stopped by ``fit``'s divergence guard
    (``history.diverged``, ``history.message``); no exception is raised.
    Pass ``explorer_data(splits)`` for runs of about a second.

    On the CPU the run uses ``threads`` threads (default 1; ``None`` keeps torch's setting). Batches of a
    small MLP are too small to share between threads with profit, and when the CPU is also busy with
    something else (the browser drawing the plot) every step waits until all threads got a turn:
    benchmarks/bench_explorer.py measured runs several times slower with 2 threads than with 1.
    """
    device = pick_device(device)
    seed_everything(seed)
    model = MLP(splits.input_shape, splits.num_classes, hidden=hidden)
    train_loader = TensorLoader(splits.train, batch_size, shuffle=True, seed=seed, device=device)
    val_loader = TensorLoader(splits.val, max(batch_size, 1000), device=device)
    with cpu_threads(threads, device):
        history = fit(model, train_loader, val_loader, epochs=epochs, optimizer=optimizer, lr=lr, device=device,
                      log=log, log_every=log_every, progress=False, diverge_factor=DIVERGE_FACTOR,
                      label=label if label is not None else run_label(lr, batch_size, epochs, optimizer))
    return history


# ----------------------------------------------------------------------------------------------- the widget
class ExplorerPlot(LivePlot):
    """A ``LivePlot`` for many overlaid runs: the y-axis stops at ``y_max`` (one diverged run does not
    flatten all others) and the legend, one entry per run, sits beside the plot instead of on it."""

    def __init__(self, *, y_max: float, **kwargs):
        super().__init__(**kwargs)
        self.y_max = y_max
        self.figure.set_size_inches(9.5, 3.8)

    def render(self):
        figure = super().render()
        ax = self.ax
        bottom, top = ax.get_ylim()
        if top > self.y_max:
            ax.set_ylim(max(bottom, 0.0), self.y_max)
            ax.set_title(f"{self.title} (cut at {self.y_max:.2g})")
        handles, labels = ax.get_legend_handles_labels()
        runs = [(h, label.removesuffix(" train")) for h, label in zip(handles, labels) if label.endswith(" train")]
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        if runs:
            ax.legend(*zip(*runs), fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="runs",
                      title_fontsize=8)
        return figure


class HyperparameterExplorer:
    """Sliders for learning rate (log scale, 1e-5 to 10), batch size (8 to 1024), epochs and optimizer;
    Train adds a run, Clear removes them all. Each run is drawn live over the earlier ones, labelled with
    its settings; a diverged run shows ``History.message`` in the status line.

    A thin layer over ``run_experiment`` (see its docstring); ``runs`` holds every ``History``.
    Display it by making it the last expression of a cell. Explained in notebooks/05_hyperparameters.ipynb.
    """

    def __init__(self, splits: Splits, *, device: torch.device | str | None = None, seed: int = 0,
                 hidden: int = DEFAULT_HIDDEN, per_class: int = DEFAULT_PER_CLASS, val_size: int = DEFAULT_VAL_SIZE,
                 lr: float = 0.1, batch_size: int = 64, epochs: int = 5, optimizer: str = "sgd",
                 threads: int | None = CPU_THREADS):
        import ipywidgets as w

        if batch_size not in BATCH_SIZES:
            raise ValueError(f"batch_size must be one of {', '.join(map(str, BATCH_SIZES))}, got {batch_size!r}")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
        lo, hi = LR_EXPONENTS
        if not (isinstance(lr, (int, float)) and 10.0**lo <= lr <= 10.0**hi):
            raise ValueError(f"lr must be between {10.0**lo:g} and {10.0**hi:g} (the slider's range), got {lr!r}")
        if isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= MAX_EPOCHS:
            raise ValueError(f"epochs must be an integer from 1 to {MAX_EPOCHS} (the slider's range), got {epochs!r}")
        self.device = pick_device(device)
        self.seed, self.hidden, self.threads = seed, hidden, threads
        self.data = explorer_data(splits, per_class=per_class, val_size=val_size, device=self.device)
        self.runs: list[History] = []
        self.ignored_clicks = 0
        self._busy = False

        self.lr_slider = w.FloatLogSlider(value=lr, base=10, min=lo, max=hi, step=0.25, description="learning rate",
                                          readout_format=".2g", continuous_update=False)
        self.batch_slider = w.SelectionSlider(options=list(BATCH_SIZES), value=batch_size, description="batch size",
                                              continuous_update=False)
        self.epochs_slider = w.IntSlider(value=epochs, min=1, max=MAX_EPOCHS, description="epochs", continuous_update=False)
        self.optimizer_dropdown = w.Dropdown(options=list(OPTIMIZERS), value=optimizer, description="optimizer")
        self.train_button = w.Button(description="Train", button_style="primary", icon="play")
        self.clear_button = w.Button(description="Clear runs", icon="trash")
        self.status = w.HTML()
        self.image = w.Image(format="png")
        for control in (self.lr_slider, self.batch_slider, self.epochs_slider, self.optimizer_dropdown):
            control.style.description_width = "100px"
        self.train_button.on_click(self.train)
        self.clear_button.on_click(self.clear)
        self.ui = w.VBox([
            w.HBox([self.lr_slider, self.batch_slider]),
            w.HBox([self.epochs_slider, self.optimizer_dropdown]),
            w.HBox([self.train_button, self.clear_button]),
            self.status,
            self.image,
        ])
        n = len(self.data.train)
        self._say(f"{n:,} training and {len(self.data.val):,} validation samples of {self.data.name}, "
                  f"MLP with {hidden} hidden units, seed {seed}. Choose settings and press Train.")
        self._new_plot().close()

    # ------------------------------------------------------------------------------------------- handlers
    def settings(self) -> dict:
        """The values the controls hold now, as ``run_experiment`` keyword arguments."""
        return {"lr": float(self.lr_slider.value), "batch_size": int(self.batch_slider.value),
                "epochs": int(self.epochs_slider.value), "optimizer": self.optimizer_dropdown.value}

    def train(self, _button=None) -> History | None:
        """Train one run with the current settings (the Train button's handler). A click that arrives
        while a run is in progress is ignored (and counted in ``ignored_clicks``)."""
        if self._busy:
            self.ignored_clicks += 1
            return None
        self._busy = True
        self.train_button.disabled = self.clear_button.disabled = True
        try:
            settings = self.settings()
            label = run_label(**settings)
            note = ""
            if settings["batch_size"] >= len(self.data.train):
                note = (f" Batch size {settings['batch_size']} is at least the {len(self.data.train):,} training "
                        "samples: every epoch is one full-batch step.")
            self._say(f"Training {label} ...{note}")
            plot = self._new_plot(label)
            with plot:
                history = run_experiment(self.data, **settings, seed=self.seed, hidden=self.hidden,
                                         device=self.device, log=plot.log, label=label, threads=self.threads)
            self.runs.append(history)
            if history.diverged:
                self._say(f"<b>{html.escape(label)}</b>: {html.escape(history.message)}{note}", colour="firebrick")
            else:
                self._say(f"<b>{html.escape(label)}</b>: {html.escape(history.summary())}.{note}")
            return history
        except Exception as err:  # shown in the widget: a traceback inside an Output area helps no one
            self._say(f"Could not train: {type(err).__name__}: {html.escape(str(err))}", colour="firebrick")
            return None
        finally:
            self._busy = False
            self.train_button.disabled = self.clear_button.disabled = False

    def clear(self, _button=None) -> None:
        """Forget every run and clear the plot (the Clear button's handler)."""
        if self._busy:
            self.ignored_clicks += 1
            return
        self.runs.clear()
        self._new_plot().close()
        self._say("All runs cleared.")

    # ------------------------------------------------------------------------------------------- helpers
    def _new_plot(self, label: str = "") -> ExplorerPlot:
        y_max = 2.0 * math.log(self.data.num_classes)  # twice the loss of a uniform guess
        return ExplorerPlot(title="training loss (lines) and validation loss (dots)", label=label,
                            background=self.runs, target=self.image, y_max=y_max)

    def _say(self, text: str, colour: str = "black") -> None:
        self.status.value = f'<span style="color:{colour}">{text}</span>'

    def _repr_mimebundle_(self, **kwargs):
        return self.ui._repr_mimebundle_(**kwargs)
