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

from .training import History


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


def draw_run(ax, steps: Sequence[float], losses: Sequence[float], val_steps: Sequence[float] = (),
             val_losses: Sequence[float] = (), *, label: str = "", color=None, alpha: float = 1.0,
             smoothing: float = 0.9) -> None:
    """Draw one run on ``ax``: raw step losses faintly, their smoothed curve, validation as dots."""
    losses = _finite(losses)
    if len(losses):
        (line,) = ax.plot(steps, losses, color=color, alpha=0.15 * alpha, linewidth=0.8)
        color = line.get_color()
        shown = smooth(np.nan_to_num(losses, nan=np.nanmax(losses) if np.isfinite(losses).any() else 0.0), smoothing)
        ax.plot(steps, shown, color=color, alpha=alpha, linewidth=1.6, label=f"{label} train".strip())
    if len(val_losses):
        ax.plot(val_steps, _finite(val_losses), "o--", color=color, alpha=alpha, markersize=4,
                label=f"{label} validation".strip())


def _history_curves(history: History) -> dict:
    return {
        "steps": np.arange(1, len(history.step_loss) + 1),
        "losses": history.step_loss,
        "val_steps": [e["step"] for e in history.epochs if e.get("val_loss") is not None],
        "val_losses": history.val_loss,
    }


def plot_history(history: History, *, log_scale: bool = False, smoothing: float = 0.9, title: str = "") -> Figure:
    """Two panels: loss per step (smoothed) with validation per epoch, and accuracy per epoch."""
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    draw_run(ax_loss, **_history_curves(history), smoothing=smoothing)
    ax_loss.set(xlabel="optimizer step", ylabel="loss", title=title or "loss")
    if log_scale:
        ax_loss.set_yscale("log")
    epochs = [e["epoch"] for e in history.epochs]
    ax_acc.plot(epochs, history.train_acc, "o-", label="train")
    if history.val_acc:
        ax_acc.plot([e["epoch"] for e in history.epochs if e.get("val_acc") is not None], history.val_acc, "o--",
                    label="validation")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if history.message:
        fig.suptitle(history.message, fontsize=8, color="firebrick", wrap=True)
    return fig


def plot_runs(histories: Sequence[History] | dict[str, History], *, log_scale: bool = False, smoothing: float = 0.9,
              title: str = "runs compared", ax=None) -> Figure:
    """Several runs overlaid on one loss plot, labelled by ``History.label`` (or the dict keys)."""
    items = histories.items() if isinstance(histories, dict) else [(h.label or f"run {i + 1}", h) for i, h in enumerate(histories)]
    if ax is None:
        fig = Figure(figsize=(7, 4), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    for label, history in items:
        draw_run(ax, **_history_curves(history), label=label, smoothing=smoothing)
    ax.set(xlabel="optimizer step", ylabel="loss", title=title)
    if log_scale:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return fig


def figure_to_png(fig: Figure, dpi: int = 80) -> bytes:
    """Render a figure to PNG bytes (what a display handle or an ``ipywidgets.Image`` shows)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where rich output can be displayed)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


class LivePlot:
    """A loss plot that follows a running ``fit``: pass ``plot.log`` as ``fit(..., log=plot.log)``.

    The figure is drawn into one display slot (``display(..., display_id=True)``, then
    ``handle.update(...)``) at most every ``min_interval`` seconds, and at the end of every epoch.
    ``background`` runs (finished Histories) are drawn faintly underneath for comparison. Give
    ``target`` (e.g. an ``ipywidgets.Image``) to draw into a widget instead. Outside Jupyter nothing is
    shown, but the data is still collected (``plot.steps``, ``plot.losses``, ``plot.figure``).
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
        self.val_steps: list[int] = []
        self.val_losses: list[float] = []
        self.figure = Figure(figsize=(7, 3.8), layout="constrained")
        self.ax = self.figure.subplots()
        self.draws = 0
        self._last_draw = -float("inf")
        self._display = in_notebook() if display is None else display
        self._handle = None

    # the logging hook ------------------------------------------------------------------------------
    def log(self, name: str, value: float, step: int) -> None:
        """Receive one value from ``fit``; redraw when due."""
        if name == "train/batch_loss":
            self.steps.append(step)
            self.losses.append(value)
            if time.perf_counter() - self._last_draw >= self.min_interval:
                self.draw()
        elif name == "val/loss":
            self.val_steps.append(step)
            self.val_losses.append(value)
        elif name == "epoch":
            self.draw()

    __call__ = log

    # drawing ---------------------------------------------------------------------------------------
    def render(self) -> Figure:
        """Redraw the figure from the data collected so far (no display)."""
        ax = self.ax
        ax.clear()
        for run in self.background:
            draw_run(ax, **_history_curves(run), label=run.label, alpha=0.35, smoothing=self.smoothing)
        draw_run(ax, self.steps, self.losses, self.val_steps, self.val_losses, label=self.label,
                 color="black" if self.background else None, smoothing=self.smoothing)
        ax.set(xlabel="optimizer step", ylabel="loss", title=self.title)
        if self.log_scale:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="upper right")
        return self.figure

    def draw(self) -> None:
        """Render and push the picture to its display slot or target widget."""
        self.render()
        self.draws += 1
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
