"""Optimizers racing on 2-D test functions: the functions, the paths, the contour plots, the widget.

Explained in notebooks/04_optimizers.ipynb. With two parameters the whole loss surface fits on one
picture, so what an optimizer does with its gradients can be watched step by step:

    result = race("rosenbrock", lr=1e-3, momentum=0.9)   # plain function: trajectories of several optimizers
    plot_race(result)                                      # contour plot with the paths, and loss per step
    race_explorer().widget                                 # the same, with sliders (a thin layer over race)
    momentum_map_widget(explorer).widget                   # momentum's rate over (lr, beta), a point on the sliders

The optimizers are ordinary ``torch.optim`` optimizers (built by name with ``utils.make_optimizer``) or
any factory ``params -> optimizer``, so hand-written optimizers can race too.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import matplotlib
import numpy as np
import torch
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from .checks import finite_number, positive_int
from .plotting import figure_to_png
from .training import OPTIMIZERS, check_lr, make_optimizer
from .widget_style import ERROR, picture, status_html

OptimizerFactory = Callable[[list[torch.Tensor]], torch.optim.Optimizer]
ADAPTIVE = ("rmsprop", "adam", "adamw")  # optimizers that divide by a running gradient scale
DEFAULT_RACERS = ("sgd", "momentum", "nesterov", "adam")
DIVERGED_LOSS = 1e12  # a path whose loss passes this (or stops being finite) is declared diverged
# Okabe-Ito colours (distinguishable with the common colour-vision deficiencies) and a line style per path, so
# paths differ by more than colour.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
LINE_STYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (1, 1)), (0, (3, 1, 1, 1, 1, 1)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X")


# ----------------------------------------------------------------------------------------------- test functions
@dataclass(frozen=True)
class TestFunction:
    """A 2-D loss surface ``f(x, y)`` with where to start, where the minimum is and what to draw.

    ``f`` takes two tensors (or arrays) of the same shape and works elementwise, so the same code
    computes one loss for the optimizer and a whole grid for the contour plot. ``lr`` and
    ``adaptive_lr`` are learning rates that give a readable race (for SGD-like and Adam-like optimizers).
    """

    __test__ = False  # not a pytest test class, despite the name

    name: str
    f: Callable
    start: tuple[float, float]
    minimum: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    lr: float
    adaptive_lr: float
    steps: int
    formula: str = ""

    def __call__(self, x, y):
        return self.f(x, y)

    def loss(self, point: torch.Tensor) -> torch.Tensor:
        """The loss at ``point``, a tensor of shape (2,)."""
        return self.f(point[0], point[1])


def _quadratic(x, y):
    return 0.5 * (x**2 + 50.0 * y**2)  # curvatures 1 and 50: condition number 50


def _rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _beale(x, y):
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


FUNCTIONS: dict[str, TestFunction] = {
    "quadratic": TestFunction(
        "quadratic", _quadratic, start=(-4.5, 1.5), minimum=(0.0, 0.0), xlim=(-5, 5), ylim=(-2, 2),
        lr=0.025, adaptive_lr=0.3, steps=100, formula=r"$f = (x^2 + 50\,y^2)/2$ (curvatures 1 and 50)"),
    "rosenbrock": TestFunction(
        "rosenbrock", _rosenbrock, start=(-1.5, 2.0), minimum=(1.0, 1.0), xlim=(-2, 2), ylim=(-1, 3),
        lr=1e-3, adaptive_lr=0.05, steps=300, formula=r"$f = (1-x)^2 + 100\,(y-x^2)^2$"),
    "beale": TestFunction(
        "beale", _beale, start=(1.0, 1.4), minimum=(3.0, 0.5), xlim=(-1, 4.5), ylim=(-1.5, 2),
        lr=3e-3, adaptive_lr=0.05, steps=300,
        formula=r"$f = (1.5-x+xy)^2 + (2.25-x+xy^2)^2 + (2.625-x+xy^3)^2$"),
}


def get_function(function: str | TestFunction) -> TestFunction:
    """A ``TestFunction`` by name (``quadratic``, ``rosenbrock``, ``beale``) or passed through."""
    if isinstance(function, TestFunction):
        return function
    if function not in FUNCTIONS:
        raise ValueError(f"function must be one of {', '.join(FUNCTIONS)} (or a TestFunction), got {function!r}")
    return FUNCTIONS[function]


# ----------------------------------------------------------------------------------------------- one path
@dataclass
class Trajectory:
    """Where an optimizer went: ``points`` (n x 2, the start first) and the loss at each point."""

    label: str
    points: np.ndarray
    losses: np.ndarray
    diverged: bool = False
    settings: dict = field(default_factory=dict)

    @property
    def final_loss(self) -> float:
        """The last loss, or ``inf`` for a diverged path (so sorting puts it last)."""
        return math.inf if self.diverged else float(self.losses[-1])

    @property
    def final_point(self) -> np.ndarray:
        return self.points[-1]


def _check_steps(steps: int) -> None:
    positive_int(steps, "steps")


def trajectory(function: str | TestFunction, make: OptimizerFactory, steps: int, *,
               start: Sequence[float] | None = None, max_grad_norm: float | None = None,
               label: str = "") -> Trajectory:
    """Run the optimizer built by ``make([point])`` for ``steps`` steps on ``function``.

    The point is a float64 tensor of shape (2,). Each step: zero the gradient, compute the loss,
    backward, optionally clip the gradient norm to ``max_grad_norm``, ``optimizer.step()``. A path whose
    loss stops being finite or passes ``DIVERGED_LOSS`` ends there with ``diverged=True``.
    """
    fn = get_function(function)
    _check_steps(steps)
    if max_grad_norm is not None and not (max_grad_norm > 0):
        raise ValueError(f"max_grad_norm must be a number > 0 or None, got {max_grad_norm!r}")
    start = fn.start if start is None else start
    if len(start) != 2:
        raise ValueError(f"start must be two numbers (x, y), got {start!r}")
    point = torch.tensor([float(start[0]), float(start[1])], dtype=torch.float64, requires_grad=True)
    optimizer = make([point])
    points, losses = [point.detach().clone()], []
    diverged = False
    for _ in range(steps):
        optimizer.zero_grad()
        loss = fn.loss(point)
        losses.append(loss.item())
        if not math.isfinite(losses[-1]) or losses[-1] > DIVERGED_LOSS:
            diverged = True
            break
        loss.backward()
        if max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_([point], max_grad_norm)
        optimizer.step()
        points.append(point.detach().clone())
    if not diverged:
        with torch.no_grad():
            losses.append(fn.loss(point).item())
        if not math.isfinite(losses[-1]) or losses[-1] > DIVERGED_LOSS:
            diverged = True
    if diverged:  # keep only the points whose loss was still a number
        points, losses = points[:len(losses) - 1], losses[:-1]
    return Trajectory(label=label, points=torch.stack(points).numpy() if points else np.empty((0, 2)),
                      losses=np.array(losses, dtype=float), diverged=diverged)


def optimizer_factory(name: str, lr: float, momentum: float = 0.9) -> OptimizerFactory:
    """``params -> torch.optim optimizer`` for one of ``utils.training.OPTIMIZERS`` (via ``make_optimizer``).

    Momentum 0 turns ``momentum`` and ``nesterov`` into plain SGD (the same update). For ``nesterov`` that
    is built as plain SGD, because ``torch.optim.SGD(nesterov=True)`` refuses momentum 0.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    check_lr(lr)
    _check_momentum(momentum)
    if name == "nesterov" and momentum == 0:
        name = "sgd"  # Nesterov with momentum 0 is plain SGD: p -= lr * (g + 0 * v)
    return lambda params: make_optimizer(name, params, lr, momentum=momentum)


def _check_momentum(momentum: float) -> None:
    finite_number(momentum, "momentum", low=0.0, high=1.0, high_open=True, example="0.9")


# ----------------------------------------------------------------------------------------------- the race
@dataclass
class Race:
    """Several optimizers started from the same point of the same function."""

    function: TestFunction
    trajectories: dict[str, Trajectory]

    def final_losses(self) -> dict[str, float]:
        return {name: t.final_loss for name, t in self.trajectories.items()}

    def ranking(self) -> list[str]:
        """Optimizer names, lowest final loss first (diverged ones last)."""
        return sorted(self.trajectories, key=lambda name: self.trajectories[name].final_loss)


def race(function: str | TestFunction = "rosenbrock", *, lr: float | None = None, adaptive_lr: float | None = None,
         momentum: float = 0.9, steps: int | None = None, optimizers: Sequence[str] = DEFAULT_RACERS,
         lrs: dict[str, float] | None = None, max_grad_norm: float | None = None) -> Race:
    """Run each optimizer in ``optimizers`` from ``function``'s start point; return their trajectories.

    ``lr`` is the learning rate of the SGD family (sgd, momentum, nesterov) and ``adaptive_lr`` that of
    rmsprop, adam and adamw: the two families need learning rates of different sizes, because adaptive
    optimizers divide the gradient by its own running scale. Both default to the function's suggestions.
    ``lrs`` (name -> lr) overrides both per optimizer, e.g. with learning rates tuned by ``tune_lr``.
    ``momentum`` is used by ``momentum`` and ``nesterov``.
    """
    fn = get_function(function)
    lr = fn.lr if lr is None else lr
    adaptive_lr = fn.adaptive_lr if adaptive_lr is None else adaptive_lr
    steps = fn.steps if steps is None else steps
    check_lr(lr)
    check_lr(adaptive_lr, "adaptive_lr")
    _check_momentum(momentum)
    _check_steps(steps)
    if isinstance(optimizers, str) or not optimizers:
        raise ValueError(f"optimizers must be a non-empty list of names from {', '.join(OPTIMIZERS)}, got {optimizers!r}")
    lrs = dict(lrs or {})
    unknown = [name for name in [*optimizers, *lrs] if name not in OPTIMIZERS]
    if unknown:
        raise ValueError(f"unknown optimizer {unknown[0]!r}; choose from {', '.join(OPTIMIZERS)}")
    trajectories = {}
    for name in optimizers:
        this_lr = lrs.get(name, adaptive_lr if name in ADAPTIVE else lr)
        path = trajectory(fn, optimizer_factory(name, this_lr, momentum), steps, max_grad_norm=max_grad_norm,
                          label=name)
        path.settings = {"lr": this_lr, **({"momentum": momentum} if name in ("momentum", "nesterov") else {})}
        trajectories[name] = path
    return Race(fn, trajectories)


def tune_lr(function: str | TestFunction, optimizer: str, lrs: Sequence[float] | None = None, *,
            steps: int | None = None, momentum: float = 0.9) -> tuple[float, dict[float, float]]:
    """Try every learning rate in ``lrs`` (default: 1e-5 ... 1 on a log grid) and keep the best.

    Best means the lowest final loss after ``steps`` steps among the runs that did not diverge (a diverged
    run is recorded as ``inf`` and is never best). Returns the best learning rate and the final loss of
    each one tried; raises ``ValueError`` if every learning rate diverged. A best rate at either end of
    ``lrs`` means the grid should be extended that way (notebook 04 checks this). A fair comparison of
    optimizers gives each one its own tuned learning rate.
    """
    fn = get_function(function)
    steps = fn.steps if steps is None else steps
    lrs = list(np.logspace(-5, 0, 16)) if lrs is None else list(lrs)
    if not lrs:
        raise ValueError("lrs must hold at least one learning rate")
    results = {float(lr): trajectory(fn, optimizer_factory(optimizer, float(lr), momentum), steps).final_loss
               for lr in lrs}
    finite = {lr: loss for lr, loss in results.items() if math.isfinite(loss)}
    if not finite:
        raise ValueError(f"every learning rate tried diverged for {optimizer} on {fn.name} "
                         f"({', '.join(f'{lr:.3g}' for lr in results)}): try smaller ones")
    best = min(finite, key=finite.get)
    return best, results


# ----------------------------------------------------------------------------------------------- pictures
def draw_contours(ax, function: str | TestFunction, *, resolution: int = 200) -> None:
    """Filled log-spaced contours of ``function`` over its ``xlim`` x ``ylim``, the minimum as a star."""
    fn = get_function(function)
    xs = np.linspace(*fn.xlim, resolution)
    ys = np.linspace(*fn.ylim, resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    values = fn(torch.from_numpy(grid_x), torch.from_numpy(grid_y)).numpy()
    low = max(values.min(), 1e-3 * max(values.max(), 1e-12), 1e-6)
    levels = np.logspace(np.log10(low), np.log10(values.max()), 20)
    ax.contourf(grid_x, grid_y, np.maximum(values, low), levels=levels, norm=LogNorm(), cmap="Blues_r", alpha=0.85)
    ax.contour(grid_x, grid_y, np.maximum(values, low), levels=levels, norm=LogNorm(), colors="white",
               linewidths=0.3, alpha=0.6)
    ax.plot(*fn.minimum, marker="*", color="gold", markersize=15, markeredgecolor="black", zorder=5)
    ax.set(xlim=fn.xlim, ylim=fn.ylim, xlabel="x", ylabel="y")


def draw_trajectory(ax, path: Trajectory, *, color=None, label: str | None = None, linestyle="-",
                    marker: str = "o") -> None:
    """One path on ``ax``: a line through the points, dots at each step, a cross where it diverged."""
    (line,) = ax.plot(path.points[:, 0], path.points[:, 1], linestyle=linestyle, marker=marker, color=color,
                      markersize=2.5, linewidth=1.6, label=label if label is not None else path.label)
    if path.diverged and len(path.points):
        ax.plot(*path.points[-1], "x", color=line.get_color(), markersize=10, markeredgewidth=2)


def _legend_label(path: Trajectory) -> str:
    parts = [f"lr={path.settings['lr']:.3g}"] if "lr" in path.settings else []
    if "momentum" in path.settings:
        parts.append(f"m={path.settings['momentum']:.2g}")
    end = "diverged" if path.diverged else f"loss {path.final_loss:.2g}"
    return f"{path.label} ({', '.join([*parts, end])})"


def style(index: int) -> dict:
    """Colour, line style and marker of the ``index``-th path (colour-blind-safe colours, differing lines)."""
    return {"color": PALETTE[index % len(PALETTE)], "linestyle": LINE_STYLES[index % len(LINE_STYLES)],
            "marker": MARKERS[index % len(MARKERS)]}


def diverged_names(result: Race) -> list[str]:
    """The optimizers whose path diverged."""
    return [name for name, path in result.trajectories.items() if path.diverged]


def plot_race(result: Race, *, title: str | None = None) -> Figure:
    """Left: the paths on the contour plot. Right: loss per step (log scale), labelled with the settings.

    Diverged paths end in a cross on the map and are named in the loss panel's title.
    """
    fig = Figure(figsize=(11, 4.4), layout="constrained")
    ax_map, ax_loss = fig.subplots(1, 2, width_ratios=[1.15, 1])
    draw_contours(ax_map, result.function)
    for index, path in enumerate(result.trajectories.values()):
        look = style(index)
        draw_trajectory(ax_map, path, **look)
        ax_loss.plot(np.arange(len(path.losses)), np.maximum(path.losses, 1e-16), color=look["color"],
                     linestyle=look["linestyle"], linewidth=1.8, label=_legend_label(path))
    ax_map.plot(*result.function.start, "o", color="black", markersize=6, zorder=6)
    ax_map.set_title(title or f"{result.function.name}: {result.function.formula}", fontsize=10)
    gone = diverged_names(result)
    loss_title = "loss per step" + (f" (diverged: {', '.join(gone)})" if gone else "")
    ax_loss.set(xlabel="step", ylabel="loss", yscale="log")
    ax_loss.set_title(loss_title, fontsize=10, color="firebrick" if gone else "black")
    ax_loss.grid(alpha=0.3)
    ax_loss.legend(fontsize=9)
    return fig


# ----------------------------------------------------------------------------------------------- the widget
class RaceExplorer:
    """Sliders over ``race``: function, learning rates (log scale), momentum, steps.

    A thin layer: every change calls ``race(...)`` and ``plot_race(...)`` with the slider values and
    shows the picture in ``self.image``. The last result is kept in ``self.race`` (tests read it).
    A callback never raises: if a race cannot run with the chosen values, the status says why in red,
    ``self.error`` holds the message, and ``self.race`` and the picture stay those of the last good values
    (the status says so). Display ``explorer.widget`` in a notebook.
    """

    def __init__(self, function: str = "rosenbrock", optimizers: Sequence[str] = DEFAULT_RACERS, dpi: int = 90):
        import ipywidgets as w

        fn = get_function(function)
        self.optimizers = tuple(optimizers)
        self.dpi = dpi
        self.race: Race | None = None
        self.updates = 0
        self.error: str | None = None
        self._holding = False
        look = {"style": {"description_width": "150px"}, "layout": w.Layout(width="480px")}
        common = {"continuous_update": False, **look}  # sliders: rerun only when released
        self.function = w.Dropdown(options=list(FUNCTIONS), value=fn.name, description="function", **look)
        self.lr = w.FloatLogSlider(value=fn.lr, base=10, min=-5, max=1, step=0.1, readout_format=".1e",
                                   description="lr (sgd, momentum)", **common)
        adaptive = [name for name in self.optimizers if name in ADAPTIVE] or list(ADAPTIVE)  # the racers it moves
        self.adaptive_lr = w.FloatLogSlider(value=fn.adaptive_lr, base=10, min=-5, max=1, step=0.1,
                                            readout_format=".1e", description=f"lr ({', '.join(adaptive)})", **common)
        self.momentum = w.FloatSlider(value=0.9, min=0.0, max=0.99, step=0.01, description="momentum", **common)
        self.steps = w.IntSlider(value=fn.steps, min=10, max=1000, step=10, description="steps", **common)
        self.reset = w.Button(description="reset to suggested values", layout=w.Layout(width="240px"),
                              tooltip="move every slider to the values suggested for this function")
        self.image = picture()
        self.status = w.HTML()
        for control in (self.lr, self.adaptive_lr, self.momentum, self.steps):
            control.observe(self._changed, names="value")
        self.function.observe(self._function_changed, names="value")
        self.reset.on_click(lambda _button: self._function_changed(None))
        self.widget = w.VBox([self.function, self.lr, self.adaptive_lr, self.momentum, self.steps, self.reset,
                              self.status, self.image], layout=w.Layout(overflow="auto"))
        self.widget.add_class("optim-widget")
        self.update()

    def _changed(self, _change=None) -> None:
        if not self._holding:
            self._safely(self.update)

    def _function_changed(self, _change) -> None:
        """A new function (or the reset button): move the sliders to its suggested values, then draw once."""
        def move_and_draw():
            fn = get_function(self.function.value)
            self._holding = True
            try:
                self.lr.value, self.adaptive_lr.value, self.steps.value = fn.lr, fn.adaptive_lr, fn.steps
                self.momentum.value = 0.9
            finally:
                self._holding = False
            self.update()

        self._safely(move_and_draw)

    def _safely(self, action) -> None:
        """Run a callback's work; an error becomes a red status line instead of escaping the callback."""
        try:
            action()
        except Exception as err:  # a callback must never raise into the front end: show the reason instead
            self.error = f"{type(err).__name__}: {err}"
            kept = " The picture still shows the last values that worked." if self.race is not None else ""
            self.status.value = status_html(f"Could not run the race with these values: {html.escape(self.error)}."
                                            f"{kept}", ERROR)

    def update(self) -> Race:
        """Run the race with the current slider values and redraw (raises on bad values; callbacks catch)."""
        result = race(self.function.value, lr=self.lr.value, adaptive_lr=self.adaptive_lr.value,
                      momentum=self.momentum.value, steps=self.steps.value, optimizers=self.optimizers)
        image = figure_to_png(plot_race(result), self.dpi)
        self.race, self.image.value, self.error = result, image, None  # all three change together
        self.status.value = status_html(status_line(result))
        self.updates += 1
        return self.race


def status_line(result: Race) -> str:
    """The explorer's status (HTML): the winner, and which paths diverged, in red."""
    finite = [name for name in result.ranking() if not result.trajectories[name].diverged]
    gone = diverged_names(result)
    parts = []
    if finite:
        best = finite[0]
        parts.append(f"lowest final loss: <b>{best}</b> ({result.trajectories[best].final_loss:.3g})")
    if gone and not finite:
        parts.append(f'<span style="color:{ERROR}"><b>every path diverged</b>: try a smaller learning rate</span>')
    elif gone:
        parts.append(f'<span style="color:{ERROR}">diverged: <b>{", ".join(gone)}</b> '
                     "(a cross marks where each stopped)</span>")
    return " &nbsp;|&nbsp; ".join(parts)


def race_explorer(function: str = "rosenbrock", optimizers: Sequence[str] = DEFAULT_RACERS) -> RaceExplorer:
    """Build the race widget; show it with ``explorer.widget`` as the last line of a cell."""
    return RaceExplorer(function, optimizers)


# ----------------------------------------------------------------------------------------------- the momentum map
#: the curvatures of the race's quadratic (x: along the valley, y: across it)
QUADRATIC_CURVATURES = (1.0, 50.0)
MAP_LRS = (1e-3, 0.2)  # the map's learning-rate range (log scale): the stable region ends below 4/50 = 0.08


def momentum_rate(lr, beta, curvature: float) -> np.ndarray:
    """Contraction per step of heavy-ball momentum (torch's form) along one direction of ``curvature``: the larger
    ``|r|`` of the two roots of ``r^2 - (1 + beta - lr * curvature) r + beta = 0`` (notebook 04 derives it).
    Elementwise over arrays of ``lr`` and ``beta``; below 1 the distance shrinks, above 1 it grows."""
    lr, beta = np.asarray(lr, dtype=float), np.asarray(beta, dtype=float)
    b = 1 + beta - lr * curvature
    root = np.sqrt((b * b - 4 * beta).astype(complex))
    return np.maximum(np.abs((b + root) / 2), np.abs((b - root) / 2))


def momentum_map(lrs, betas, curvatures: Sequence[float] = QUADRATIC_CURVATURES) -> np.ndarray:
    """The rate of a quadratic with these curvatures at every (beta, lr) of the grid: the slowest direction's
    ``momentum_rate``. Shape ``(len(betas), len(lrs))``."""
    grid_lr, grid_beta = np.meshgrid(np.asarray(lrs, dtype=float), np.asarray(betas, dtype=float))
    return np.max([momentum_rate(grid_lr, grid_beta, c) for c in curvatures], axis=0)


def stability_edge(beta, largest_curvature: float = max(QUADRATIC_CURVATURES)):
    """The largest stable learning rate at momentum ``beta``: ``2 (1 + beta) / lambda_max`` (notebook 04)."""
    return 2 * (1 + np.asarray(beta, dtype=float)) / largest_curvature


def best_momentum(mu: float = min(QUADRATIC_CURVATURES), L: float = max(QUADRATIC_CURVATURES)) -> tuple:
    """Polyak's best ``(lr, beta, rate)`` for curvatures between ``mu`` and ``L`` (notebook 04's formula)."""
    kappa = L / mu
    rate = (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)
    return (2 / (math.sqrt(L) + math.sqrt(mu))) ** 2, rate**2, rate


def plot_momentum_map(lr: float | None = None, beta: float | None = None, *, resolution: int = 240) -> Figure:
    """The rate per step over (learning rate, momentum) for the race's quadratic: colour where it converges (darker:
    faster), grey where it does not; the edge ``lr = 2 (1 + beta) / 50`` dashed, the best tuning as a star and,
    if given, the point ``(lr, beta)`` with its rate."""
    lrs = np.logspace(*np.log10(MAP_LRS), resolution)
    betas = np.linspace(0.0, 0.99, resolution)
    rates = momentum_map(lrs, betas)
    fig = Figure(figsize=(7.0, 4.2), layout="constrained")
    ax = fig.subplots()
    cmap = matplotlib.colormaps["viridis"].with_extremes(over="0.8")
    mesh = ax.pcolormesh(lrs, betas, rates, cmap=cmap, vmin=0.7, vmax=1.0, shading="auto")
    fig.colorbar(mesh, ax=ax, extend="both", label="rate per step (grey: 1 or more, diverges)")
    ax.contour(lrs, betas, rates, levels=[1.0], colors="black", linewidths=1.2)
    ax.plot(stability_edge(betas), betas, color="#CC79A7", linestyle="--", linewidth=2.0,
            label="edge from the formula: lr = 2 (1 + β) / 50")
    best_lr, best_beta, best_rate = best_momentum()
    ax.plot(best_lr, best_beta, marker="*", color="gold", markersize=15, markeredgecolor="black", linestyle="none",
            label=f"best tuning (rate {best_rate:.2f})")
    title = "momentum on the quadratic: how fast it converges"
    if lr is not None and beta is not None:
        rate = float(momentum_map([lr], [beta])[0, 0])
        shown = MAP_LRS[0] <= lr <= MAP_LRS[1]
        ax.plot(min(max(lr, MAP_LRS[0]), MAP_LRS[1]), beta, marker="o" if shown else ">", color="#D55E00",
                markersize=10, markeredgecolor="white", linestyle="none", label=f"lr {lr:.2g}, β {beta:.2f}")
        title = f"lr {lr:.2g}, β {beta:.2f}: " + (f"rate {rate:.3f} per step" if rate < 1 else "diverges")
        if not shown:
            title += " (lr off the map)"
    ax.set(xscale="log", xlim=MAP_LRS, ylim=(0.0, 0.99), xlabel="learning rate", ylabel="momentum β", title=title)
    ax.legend(fontsize=8, loc="upper left", framealpha=0.9)
    return fig


class MomentumMap:
    """``plot_momentum_map`` as a widget whose point follows a ``RaceExplorer``'s "lr (sgd, momentum)" and
    "momentum" sliders (on any function: the map is always the quadratic's). A thin layer: every slider change
    calls ``update``; ``self.rate`` is the point's rate. A callback never raises (the status says why)."""

    def __init__(self, race: RaceExplorer, dpi: int = 100):
        import ipywidgets as w

        self.race, self.dpi = race, dpi
        self.rate: float | None = None
        self.updates = 0
        self.image = picture()
        self.status = w.HTML()
        for control in (race.lr, race.momentum):
            control.observe(self._moved, names="value")
        self.widget = w.VBox([self.status, self.image], layout=w.Layout(overflow="auto"))
        self.widget.add_class("optim-widget")
        self.update()

    def _moved(self, _change=None) -> None:
        try:
            self.update()
        except Exception as err:  # a callback must never raise into the front end
            self.status.value = status_html(f"Could not redraw the map: {type(err).__name__}: "
                                            f"{html.escape(str(err))}", ERROR)

    def update(self) -> float:
        """Redraw the map with the point at the race's learning rate and momentum; return its rate."""
        lr, beta = float(self.race.lr.value), float(self.race.momentum.value)
        self.image.value = figure_to_png(plot_momentum_map(lr, beta), self.dpi)
        self.rate = float(momentum_map([lr], [beta])[0, 0])
        edge = float(stability_edge(beta))
        verdict = (f"rate {self.rate:.3f} per step on the quadratic" if self.rate < 1
                   else "outside the stable region: the quadratic's path grows")
        self.status.value = status_html(f"race sliders: lr {lr:.2g}, momentum {beta:.2f}: {verdict} "
                                        f"(the edge at this momentum: lr {edge:.3g})")
        self.updates += 1
        return self.rate


def momentum_map_widget(race: RaceExplorer) -> MomentumMap:
    """The momentum map following ``race``'s sliders; show it with ``.widget`` as the last line of a cell."""
    return MomentumMap(race)
