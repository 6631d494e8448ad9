"""Loss curves: static plots of finished runs and a live plot that updates while ``fit`` runs.

Explained in notebooks/00_start_here.ipynb (live plot) and notebooks/05_hyperparameters.ipynb (overlaid
runs). The live plot redraws one figure in place through an IPython display handle (no
``clear_output``, no flicker, one image left in a saved notebook) and is silent outside Jupyter.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from . import events
from .checks import integer
from .training import History, in_notebook


def smooth(values: Sequence[float], weight: float = 0.9) -> np.ndarray:
    """Exponential moving average with bias correction (TensorBoard's smoothing). ``weight=0`` is none."""
    if not 0 <= weight < 1:
        raise ValueError(f"weight must be in [0, 1), got {weight}")
    out = np.empty(len(values))
    avg = 0.0
    for i, v in enumerate(values):
        avg = weight * avg + (1 - weight) * v
        out[i] = avg / (1 - weight ** (i + 1))
    return out


def _finite(values: Sequence[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return np.where(np.isfinite(arr), arr, np.nan)


# ----------------------------------------------------------------------------------------------- colours and styles
#: Okabe and Ito's colour-blind-safe palette ("Color Universal Design", 2008), yellow last (faint on white)
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
#: line styles that tell runs apart without colour; 7 styles and 8 colours repeat together only after 56 runs
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1)), (0, (1, 3)))

TRAIN_STEPS_LABEL = "training loss of each step, smoothed"
TRAIN_EPOCH_LABEL = "training loss, mean of the epoch (drawn mid-epoch)"
VAL_LABEL = "validation loss, end of the epoch"
_RUN_GID = "utils.plotting run"  # marks the first line of every run drawn on an axes, to count runs


def run_style(index: int) -> dict:
    """Colour and line style of the ``index``-th run of a plot (0, 1, ...), as ``plot`` keyword arguments.

    Every plot of the series draws its runs with these, so a run can be told apart by colour-blind readers
    and in black and white: ``ax.plot(x, y, **run_style(2))``.
    """
    index = integer(index, "index", minimum=0)
    return {"color": PALETTE[index % len(PALETTE)], "linestyle": LINESTYLES[index % len(LINESTYLES)]}


def draw_run(ax, steps: Sequence[float], losses: Sequence[float], val_steps: Sequence[float] = (),
             val_losses: Sequence[float] = (), *, epoch_steps: Sequence[float] = (),
             epoch_losses: Sequence[float] = (), label: str = "", color=None, linestyle=None, alpha: float = 1.0,
             smoothing: float = 0.9) -> Line2D:
    """Draw one run on ``ax`` and return a line that stands for it in a legend.

    The loss of every step is drawn faintly (raw, and smoothed with ``smooth``); the training loss averaged
    over each epoch as squares at ``epoch_steps`` (the middle of each epoch, where that average was
    measured); validation as open circles at ``val_steps`` (the end of each epoch). A smoothed curve lags
    behind the loss (it averages the past), and an epoch's mean training loss describes the weights of
    mid-epoch: drawing either at the end of the epoch would put it above a validation dot of better
    weights, which reads as "validation below training" when it is not. ``color`` and ``linestyle``
    default to ``run_style(n)`` for the ``n``-th run drawn on ``ax``.
    """
    style = run_style(sum(line.get_gid() == _RUN_GID for line in ax.lines))
    color = style["color"] if color is None else color
    linestyle = style["linestyle"] if linestyle is None else linestyle
    losses = _finite(losses)
    if len(losses):
        ax.plot(steps, losses, color=color, alpha=0.12 * alpha, linewidth=0.8, gid=_RUN_GID)
        shown = smooth(np.nan_to_num(losses, nan=np.nanmax(losses) if np.isfinite(losses).any() else 0.0), smoothing)
        ax.plot(steps, shown, color=color, linestyle=linestyle, alpha=0.45 * alpha, linewidth=1.0)
    if len(epoch_losses):
        ax.plot(epoch_steps, _finite(epoch_losses), marker="s", color=color, linestyle=linestyle, alpha=alpha,
                markersize=4.5, linewidth=1.6)
    if len(val_losses):
        ax.plot(val_steps, _finite(val_losses), marker="o", color=color, linestyle=linestyle, alpha=alpha,
                markersize=5, markerfacecolor="white", linewidth=1.6)
    return Line2D([], [], color=color, linestyle=linestyle, alpha=alpha, linewidth=1.6, label=label)


def add_legend(ax, runs: Sequence[tuple[Line2D, str]] = (), *, outside: bool = False, loc: str = "best",
               epoch_means: bool = True) -> None:
    """What the marks mean (the same for every run) and, when the runs have labels, which run is which.

    ``runs`` holds ``(handle, label)`` pairs, e.g. what ``draw_run`` returned. Inside the axes it is one
    legend (``ax.get_legend()``): the labelled runs first, then the marks (two boxes at one spot would hide
    each other). ``outside`` puts the run legend to the right of the figure and the marks' meaning beneath it
    (figure legends; a constrained layout makes room for them). ``epoch_means=False``: no epoch means were
    drawn (a live plot fed only step losses), so their mark is left out.
    """
    grey = "0.35"
    marks = [Line2D([], [], color=grey, alpha=0.45, linewidth=1.0, label=TRAIN_STEPS_LABEL),
             Line2D([], [], color=grey, marker="s", markersize=4.5, linewidth=1.6, label=TRAIN_EPOCH_LABEL),
             Line2D([], [], color=grey, marker="o", markersize=5, markerfacecolor="white", linewidth=1.6,
                    label=VAL_LABEL)]
    marks = marks if epoch_means else [marks[0], marks[2]]
    labelled = [(handle, label) for handle, label in runs if label]
    if outside:
        ax.figure.legend(handles=marks, fontsize=7, loc="outside lower center", ncols=3)
        if labelled:
            ax.figure.legend(*zip(*labelled), fontsize=8, title="runs", title_fontsize=8, loc="outside right upper")
        return
    handles = [handle for handle, _ in labelled] + marks
    ax.legend(handles, [label for _, label in labelled] + [mark.get_label() for mark in marks], fontsize=7, loc=loc)


# ----------------------------------------------------------------------------------------------- finished runs
def _mid_epoch(epoch_ends: Sequence[int]) -> list[float]:
    """The middle of each epoch on the step axis: epoch k covers steps ``ends[k-1] + 1 .. ends[k]``."""
    starts = [0, *epoch_ends[:-1]]
    return [(start + 1 + end) / 2 for start, end in zip(starts, epoch_ends)]


def _history_curves(history: History) -> dict:
    ends = [e["step"] for e in history.epochs]
    means = [(mid, e["train_loss"]) for mid, e in zip(_mid_epoch(ends), history.epochs) if e.get("train_loss") is not None]
    return {
        "steps": np.arange(1, len(history.step_loss) + 1),
        "losses": history.step_loss,
        "val_steps": [e["step"] for e in history.epochs if e.get("val_loss") is not None],
        "val_losses": history.val_loss,
        "epoch_steps": [mid for mid, _ in means],
        "epoch_losses": [loss for _, loss in means],
    }


def plot_history(history: History, *, log_scale: bool = False, smoothing: float = 0.9, title: str = "") -> Figure:
    """Two panels: the loss (every step faintly, each epoch's mean, validation) and the accuracy per epoch.

    Training numbers are means over an epoch, drawn at its middle (epoch 1's at 0.5); validation is
    measured at the end of the epoch. See ``draw_run``.
    """
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    draw_run(ax_loss, **_history_curves(history), smoothing=smoothing)
    ax_loss.set(xlabel="optimizer step", ylabel="loss", title=title or "loss")
    if log_scale:
        ax_loss.set_yscale("log")
    add_legend(ax_loss)
    style = run_style(0)
    train = [(e["epoch"] - 0.5, e["train_acc"]) for e in history.epochs if e.get("train_acc") is not None]
    if train:
        ax_acc.plot(*zip(*train), marker="s", markersize=4.5, label="training, mean of the epoch", **style)
    val = [(e["epoch"], e["val_acc"]) for e in history.epochs if e.get("val_acc") is not None]
    if val:
        ax_acc.plot(*zip(*val), marker="o", markersize=5, markerfacecolor="white", label="validation, end of the epoch",
                    **style)
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    if train or val:
        ax_acc.legend(fontsize=7)
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    if history.message:
        fig.suptitle(history.message, fontsize=8, color="firebrick", wrap=True)
    return fig


def plot_runs(histories: Sequence[History] | dict[str, History], *, log_scale: bool = False, smoothing: float = 0.9,
              title: str = "runs compared", ax=None) -> Figure:
    """Several runs overlaid on one loss plot, labelled by ``History.label`` (or the dict keys); each run has
    its own colour and line style (``run_style``)."""
    items = histories.items() if isinstance(histories, dict) else [(h.label or f"run {i + 1}", h) for i, h in enumerate(histories)]
    if ax is None:
        fig = Figure(figsize=(9, 4), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    runs = [(draw_run(ax, **_history_curves(history), label=label, smoothing=smoothing), label)
            for label, history in items]
    ax.set(xlabel="optimizer step", ylabel="loss", title=title)
    if log_scale:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    add_legend(ax, runs, outside=True)
    return fig


def figure_to_png(fig: Figure, dpi: int = 80) -> bytes:
    """Render a figure to PNG bytes (what a display handle or an ``ipywidgets.Image`` shows)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


class LivePlot:
    """A loss plot that follows a running ``fit``: pass ``plot.log`` as ``fit(..., log=plot.log)``.

    The figure is drawn into one display slot (``display(..., display_id=True)``, then
    ``handle.update(...)``) at most every ``min_interval`` seconds, and at the end of every epoch.
    ``background`` runs (finished Histories) are drawn faintly underneath for comparison. Give
    ``target`` (e.g. an ``ipywidgets.Image``) to draw into a widget instead. Outside Jupyter nothing is
    shown, but the data is still collected (``plot.steps``, ``plot.losses``, ``plot.epoch_steps``,
    ``plot.epoch_losses``, ``plot.val_steps``, ``plot.val_losses``, ``plot.figure``). What is drawn, and
    why training numbers sit mid-epoch: ``draw_run``.
    """

    def __init__(self, *, title: str = "training loss", label: str = "", log_scale: bool = False,
                 smoothing: float = 0.9, min_interval: float = 0.5, background: Sequence[History] = (),
                 target=None, display: bool | None = None, dpi: int = 80):
        self.title, self.label, self.log_scale, self.smoothing = title, label, log_scale, smoothing
        self.min_interval = min_interval
        self.background = list(background)
        self.target = target
        self.dpi = dpi
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.epoch_steps: list[float] = []  # the middle of each finished epoch
        self.epoch_losses: list[float] = []  # its mean training loss
        self.val_steps: list[int] = []
        self.val_losses: list[float] = []
        self.figure = Figure(figsize=(7, 3.8), layout="constrained")
        self.ax = self.figure.subplots()
        self._epoch_end = 0
        self._last_draw = -float("inf")
        self._display = in_notebook() if display is None else display
        self._handle = None

    # the logging hook ------------------------------------------------------------------------------
    def log(self, name: str, value: float, step: int) -> None:
        """Receive one value from ``fit``; redraw when due."""
        if name == events.TRAIN_BATCH_LOSS:
            self.steps.append(step)
            self.losses.append(value)
            if time.perf_counter() - self._last_draw >= self.min_interval:
                self.draw()
        elif name == events.TRAIN_LOSS:
            self.epoch_steps.append(_mid_epoch([self._epoch_end, step])[1])
            self.epoch_losses.append(value)
            self._epoch_end = step
        elif name == events.VAL_LOSS:
            self.val_steps.append(step)
            self.val_losses.append(value)
        elif name == events.EPOCH:
            self.draw()

    def log_epoch(self, batch_losses: Sequence[float], val_loss: float | None = None) -> None:
        """One epoch of a loop written by hand (notebook 00): its step losses, its validation loss, a redraw."""
        for loss in batch_losses:
            self.log(events.TRAIN_BATCH_LOSS, float(loss), len(self.steps) + 1)
        if val_loss is not None:
            self.log(events.VAL_LOSS, float(val_loss), len(self.steps))
        self.log(events.EPOCH, len(self.val_steps), len(self.steps))

    # drawing ---------------------------------------------------------------------------------------
    def render(self) -> Figure:
        """Redraw the figure from the data collected so far (no display)."""
        ax = self.ax
        ax.clear()
        runs = [(draw_run(ax, **_history_curves(run), label=run.label, alpha=0.35, smoothing=self.smoothing), run.label)
                for run in self.background]
        runs.append((draw_run(ax, self.steps, self.losses, self.val_steps, self.val_losses, epoch_steps=self.epoch_steps,
                              epoch_losses=self.epoch_losses, label=self.label, smoothing=self.smoothing), self.label))
        ax.set(xlabel="optimizer step", ylabel="loss", title=self.title)
        if self.log_scale:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        add_legend(ax, runs, loc="upper right" if not self.background else "lower left",
                   epoch_means=bool(self.epoch_losses) or any(run.train_loss for run in self.background))
        return self.figure

    def draw(self) -> None:
        """Render and push the picture to its display slot or target widget."""
        self.render()
        self._last_draw = time.perf_counter()
        if self.target is not None:
            self.target.value = figure_to_png(self.figure, self.dpi)
        elif self._display:
            from IPython.display import Image, display

            image = Image(data=figure_to_png(self.figure, self.dpi), format="png")
            if self._handle is None:
                self._handle = display(image, display_id=True)
            else:
                self._handle.update(image)

    def close(self) -> None:
        """Final redraw, so the picture left behind shows every point."""
        self.draw()

    def __enter__(self) -> LivePlot:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
