"""The hyperparameter explorer: sliders for learning rate, batch size and epochs over plain functions.

Explained in notebooks/05_hyperparameters.ipynb. The widget is a thin layer: a click on Train reads the
controls and calls ``utils.experiments.run_experiment``, which calls ``utils.fit``; the picture and the
message come from the ``History`` it returns. Everything the widget does can be done without it (see
``utils.experiments``).
"""

from __future__ import annotations

import html
import math
import threading
import time
from collections.abc import Callable

import numpy as np
import torch
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from . import events
from .checks import finite_number, integer, one_of
from .data import Splits
from .device import pick_device
from .experiments import (  # noqa: F401  (explorer_data, run_experiment, run_label: kept importable from here)
    DEFAULT_HIDDEN,
    DEFAULT_PER_CLASS,
    DEFAULT_VAL_SIZE,
    explorer_data,
    run_experiment,
    run_label,
)
from .plotting import LivePlot, draw_run
from .training import OPTIMIZERS, History
from .widget_style import ERROR, TEXT, WARN, picture, status_html

LR_EXPONENTS = (-5, 1)  # the learning-rate slider runs from 1e-5 to 10 on a log scale
BATCH_SIZES = tuple(2**k for k in range(3, 11))  # 8, 16, ..., 1024
MAX_EPOCHS = 20
#: what the x-axis can show: the trade-off of batch size is exactly steps vs samples vs time
X_AXES = {"steps": "optimizer step", "epochs": "epoch", "samples": "training samples seen", "seconds": "seconds"}
#: a Train click handled within this many seconds after a run ended was sent while that run was going
#: (a double-click: the kernel queues the second click and handles it once the first run returns)
QUEUED_CLICK_WINDOW_S = 0.5
#: what the status says when it ignores such a click (a click the learner meant is never dropped without a word)
IGNORED_CLICK = ("A click on Train that came during the run, or within {window:g} s of its end, was ignored "
                 "(one run at a time; a double-click trains once): press Train again for another run.")

class RunAxis:
    """Turns a run's optimizer steps into the x-axis the learner chose (steps, epochs, samples, seconds)."""

    def __init__(self, batch_size: int, n_train: int):
        self.batch_size, self.n_train = batch_size, n_train
        self.steps_per_epoch = -(-n_train // batch_size)
        self.clock: list[tuple[int, float]] = [(0, 0.0)]  # (step, seconds since the start) anchors

    def tick(self, step: int, seconds: float) -> None:
        """Note that ``step`` was done ``seconds`` after the start."""
        if step > self.clock[-1][0]:
            self.clock.append((step, seconds))

    def set_clock(self, history: History) -> None:
        """Use the epoch ends ``fit`` recorded as the clock (exact; the live ticks come in bursts)."""
        self.clock = [(0, 0.0)] + [(e["step"], e["time"]) for e in history.epochs if "time" in e]

    def __call__(self, steps, axis: str) -> np.ndarray:
        steps = np.asarray(steps, dtype=float)
        if axis == "epochs":
            return steps / self.steps_per_epoch
        if axis == "samples":  # the last batch of an epoch may be smaller
            full, rest = np.divmod(steps, self.steps_per_epoch)
            return full * self.n_train + np.minimum(rest * self.batch_size, self.n_train)
        if axis == "seconds":
            known, seconds = zip(*self.clock)
            return np.interp(steps, known, seconds)
        return steps


class ExplorerPlot(LivePlot):
    """A ``LivePlot`` for many overlaid runs: the y-axis stops at ``y_max`` (one diverged run does not
    flatten all others), the x-axis shows what ``x_axis()`` returns (a key of ``X_AXES``, read at every
    redraw), and the legend, one entry per run, sits beside the plot instead of on it."""

    def __init__(self, *, y_max: float, x_axis: Callable[[], str], axis: RunAxis | None, background_axes=(),
                 **kwargs):
        super().__init__(**kwargs)
        self.y_max, self.x_axis, self.axis = y_max, x_axis, axis
        self.background_axes = list(background_axes)
        self.figure.set_size_inches(9.5, 3.8)
        self._start = time.perf_counter()

    def log(self, name: str, value: float, step: int) -> None:
        if name == events.TRAIN_BATCH_LOSS and self.axis is not None:
            self.axis.tick(step, time.perf_counter() - self._start)
        super().log(name, value, step)

    def draw(self) -> None:
        if len(self.steps) == 1:  # one point is an empty-looking frame: wait for the second
            return
        super().draw()

    def close(self) -> None:
        super().draw()  # the final picture, even of a one-step run

    def render(self):
        ax, x_axis = self.ax, self.x_axis()
        ax.clear()
        entries = []  # (legend handle, run label)

        def draw(axis, steps, losses, val_steps, val_losses, label, **style):
            before = len(ax.lines)
            draw_run(ax, axis(steps, x_axis), losses, axis(val_steps, x_axis), val_losses, label=label,
                     smoothing=self.smoothing, **style)
            if len(ax.lines) > before:
                first = ax.lines[before]
                entries.append((Line2D([], [], color=first.get_color(), alpha=style.get("alpha", 1.0),
                                       linewidth=1.6), label))

        for run, axis in zip(self.background, self.background_axes):
            val_steps = [e["step"] for e in run.epochs if e.get("val_loss") is not None]
            draw(axis, np.arange(1, len(run.step_loss) + 1), run.step_loss, val_steps, run.val_loss, run.label,
                 alpha=0.35)
        if self.axis is not None and self.steps:
            draw(self.axis, self.steps, self.losses, self.val_steps, self.val_losses, self.label,
                 color="black" if self.background else None)
        ax.set(xlabel=X_AXES[x_axis], ylabel="loss", title=self.title)
        if x_axis != "seconds":
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no ticks at step 2.5
        ax.grid(alpha=0.3)
        bottom, top = ax.get_ylim()
        if top > self.y_max:
            ax.set_ylim(max(bottom, 0.0), self.y_max)
            ax.set_title(f"{self.title} (cut at {self.y_max:.2g})")
        if entries:
            ax.legend(*zip(*entries), fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="runs",
                      title_fontsize=8)
        else:
            ax.text(0.5, 0.5, "no runs yet: choose settings and press Train", ha="center", va="center",
                    transform=ax.transAxes, color="gray")
        return self.figure


class HyperparameterExplorer:
    """Sliders for learning rate (log scale, 1e-5 to 10), batch size (8 to 1024), epochs and optimizer;
    Train adds a run, Clear removes them all, and the x-axis can show optimizer steps, epochs, samples
    seen or seconds. Each run is drawn live over the earlier ones, labelled with its settings; a diverged
    run shows ``History.message`` in the status line.

    A thin layer over ``run_experiment`` (see its docstring); ``runs`` holds every ``History``. Only one
    run trains at a time: a click while a run is going, or queued behind it (a double-click), is ignored,
    and the status says so. The buttons stay enabled during a run, so the keyboard focus stays on Train.
    Interrupting the kernel (Stop) stops the run; the run so far is kept and the status says "stopped".
    Display it by making it the last expression of a cell. Explained in notebooks/05_hyperparameters.ipynb.
    """

    def __init__(self, splits: Splits, *, device: torch.device | str | None = None, seed: int = 0,
                 hidden: int = DEFAULT_HIDDEN, per_class: int = DEFAULT_PER_CLASS, val_size: int = DEFAULT_VAL_SIZE,
                 lr: float = 0.1, batch_size: int = 64, epochs: int = 5, optimizer: str = "sgd",
                 threads: int | None = None, x_axis: str = "steps"):
        import ipywidgets as w

        one_of(batch_size, "batch_size", BATCH_SIZES)
        one_of(optimizer, "optimizer", OPTIMIZERS)
        one_of(x_axis, "x_axis", tuple(X_AXES))
        lo, hi = LR_EXPONENTS
        finite_number(lr, "lr (the slider's range)", low=10.0**lo, high=10.0**hi)
        epochs = integer(epochs, "epochs", minimum=1)
        if epochs > MAX_EPOCHS:
            raise ValueError(f"epochs must be an integer from 1 to {MAX_EPOCHS} (the slider's range), got {epochs!r}")
        self.device = pick_device(device)
        self.seed, self.hidden, self.threads = seed, hidden, threads
        self.data = explorer_data(splits, per_class=per_class, val_size=val_size, device=self.device)
        self.runs: list[History] = []
        self._axes: list[RunAxis] = []  # one per run, for the x-axis choice
        self._lock = threading.Lock()  # held while a run trains
        self._finished_at = -math.inf
        self._message, self._colour = "", TEXT

        self.lr_slider = w.FloatLogSlider(value=lr, base=10, min=lo, max=hi, step=0.25, description="learning rate",
                                          readout_format=".2g", continuous_update=False)
        self.batch_slider = w.SelectionSlider(options=list(BATCH_SIZES), value=batch_size, description="batch size",
                                              continuous_update=False)
        self.epochs_slider = w.IntSlider(value=epochs, min=1, max=MAX_EPOCHS, description="epochs", continuous_update=False)
        self.optimizer_dropdown = w.Dropdown(options=list(OPTIMIZERS), value=optimizer, description="optimizer")
        self.x_axis_dropdown = w.Dropdown(options=[(label, key) for key, label in X_AXES.items()], value=x_axis,
                                          description="x-axis")
        self.train_button = w.Button(description="Train", button_style="primary", icon="play")
        self.clear_button = w.Button(description="Clear runs", icon="trash")
        # room for two lines, so a short message does not move the plot; a longer one grows the box (never clipped)
        self.status = w.HTML(layout=w.Layout(min_height="3.6em"))
        self.image = picture()
        # the runs on the plot, in words: readable without telling colours apart (and what a browser test reads)
        self.runs_list = w.HTML()
        for control in (self.lr_slider, self.batch_slider, self.epochs_slider, self.optimizer_dropdown,
                        self.x_axis_dropdown):
            control.style.description_width = "100px"
        self.train_button.on_click(self._on_train_click)
        self.clear_button.on_click(self.clear)
        self.x_axis_dropdown.observe(self._on_x_axis, names="value")
        self.ui = w.VBox([
            w.HBox([self.lr_slider, self.batch_slider]),
            w.HBox([self.epochs_slider, self.optimizer_dropdown]),
            w.HBox([self.train_button, self.clear_button, self.x_axis_dropdown]),
            self.status,
            self.image,
            self.runs_list,
        ], layout=w.Layout(overflow="auto"))
        self.ui.add_class("optim-widget")
        n = len(self.data.train)
        self._say(f"{n:,} training and {len(self.data.val):,} validation samples of {self.data.name}, "
                  f"MLP with {hidden} hidden units, seed {seed}. Choose settings and press Train.")
        self._list_runs()
        self._new_plot().close()

    # ------------------------------------------------------------------------------------------- handlers
    def settings(self) -> dict:
        """The values the controls hold now, as ``run_experiment`` keyword arguments."""
        return {"lr": float(self.lr_slider.value), "batch_size": int(self.batch_slider.value),
                "epochs": int(self.epochs_slider.value), "optimizer": self.optimizer_dropdown.value}

    def _on_train_click(self, _button=None) -> History | None:
        """The Train button's handler: ``train()``, unless the click was queued behind the last run."""
        if time.monotonic() - self._finished_at < QUEUED_CLICK_WINDOW_S:
            # sent while the last run trained (a double-click), handled only now: ignored, with a word
            message, colour = self._message, self._colour  # the last run's result stays, the note follows it
            self._say(f"{message} <i>{IGNORED_CLICK.format(window=QUEUED_CLICK_WINDOW_S)}</i>", colour)
            self._message = message  # a third click does not repeat the note
            return None
        return self.train()

    def train(self, _button=None) -> History | None:
        """Train one run with the current settings. Returns its ``History``, or ``None`` when a run is
        already in progress (the call is ignored) or the run could not start (the status says why)."""
        if not self._lock.acquire(blocking=False):
            return None
        # the buttons stay enabled: a disabled button drops the keyboard focus (and would stay disabled for good if
        # the kernel restarted mid-run); clicks during the run are queued by the kernel and ignored when they come
        try:
            return self._train()
        finally:
            self._finished_at = time.monotonic()
            self._lock.release()

    def _train(self) -> History | None:
        try:
            settings = self.settings()
            label = run_label(**settings)
            note = ""
            if settings["batch_size"] >= len(self.data.train):
                note = (f" Batch size {settings['batch_size']} is at least the {len(self.data.train):,} training "
                        "samples: every epoch is one full-batch step.")
            self._say(f"Training {label} ...{note}")
            axis = RunAxis(settings["batch_size"], len(self.data.train))
            plot = self._new_plot(label, axis)
            try:
                with plot:
                    history = run_experiment(self.data, **settings, seed=self.seed, hidden=self.hidden,
                                             device=self.device, log=plot.log, label=label, threads=self.threads)
            except KeyboardInterrupt as err:  # Stop pressed outside fit's loop: keep what the plot received
                history = getattr(err, "history", None)
                if history is None:
                    history = History(step_loss=list(plot.losses), label=label, device=str(self.device))
                    history.stop("interrupted", "Training was interrupted.")
            self._keep(history, axis)
            if history.epochs:
                axis.set_clock(history)
            if history.interrupted:
                self._say(f"<b>{html.escape(label)}</b>: stopped after {len(history.step_loss)} step(s); "
                          f"the run so far is kept. {html.escape(history.summary())}", colour=WARN)
            elif history.diverged:
                self._say(f"<b>{html.escape(label)}</b>: {html.escape(history.message)}{note}", colour=ERROR)
            else:
                self._say(f"<b>{html.escape(label)}</b>: {html.escape(history.summary())}.{note}")
            return history
        except Exception as err:  # shown in the widget: a traceback inside an Output area helps no one
            self._say(f"Could not train: {type(err).__name__}: {html.escape(str(err))}", colour=ERROR)
            return None

    def clear(self, _button=None) -> None:
        """Forget every run and clear the plot (the Clear button's handler)."""
        if self._lock.locked():
            return
        try:
            self.runs.clear()
            self._axes.clear()
            self._list_runs()
            self._new_plot().close()
            self._say("All runs cleared.")
        except Exception as err:
            self._say(f"Could not clear: {type(err).__name__}: {html.escape(str(err))}", colour=ERROR)

    def _on_x_axis(self, _change=None) -> None:
        """Redraw the finished runs against the x-axis chosen in the dropdown (a running run follows it)."""
        if self._lock.locked():
            return  # the live plot reads the choice at its next redraw
        try:
            self._new_plot().close()
        except Exception as err:
            self._say(f"Could not redraw: {type(err).__name__}: {html.escape(str(err))}", colour=ERROR)

    # ------------------------------------------------------------------------------------------- helpers
    def _keep(self, history: History, axis: RunAxis) -> None:
        self.runs.append(history)
        self._axes.append(axis)
        self._list_runs()

    def _list_runs(self) -> None:
        """Write the runs on the plot as a numbered list under it: "Runs on the plot: 1. sgd lr=0.1 ...; 2. ..."."""
        if not self.runs:
            self.runs_list.value = "<small>Runs on the plot: none yet.</small>"
            return
        items = "; ".join(f"{i}. {html.escape(run.label)}{' (diverged)' if run.diverged else ''}"
                          for i, run in enumerate(self.runs, 1))
        self.runs_list.value = f"<small>Runs on the plot: {items}</small>"

    def _new_plot(self, label: str = "", axis: RunAxis | None = None) -> ExplorerPlot:
        y_max = 2.0 * math.log(self.data.num_classes)  # twice the loss of a uniform guess
        self.plot = ExplorerPlot(title="training loss (lines) and validation loss (dots)", label=label,
                                 background=self.runs, background_axes=self._axes, target=self.image, y_max=y_max,
                                 x_axis=lambda: self.x_axis_dropdown.value, axis=axis)
        return self.plot

    def _say(self, text: str, colour: str = TEXT) -> None:
        self._message, self._colour = text, colour
        self.status.value = status_html(text, colour)

    def _repr_mimebundle_(self, **kwargs):
        return self.ui._repr_mimebundle_(**kwargs)
