"""Per-layer histograms of activations and gradients, captured with forward and backward hooks.

Explained in notebooks/03b_initialization.ipynb ("Going further: layer histograms"). A pooled standard deviation per
layer hides *what* the values look like; a histogram shows a spread collapsing to a spike (vanishing), widening
(exploding), piling up at the ends of tanh's range (saturation), or the same for every image (a constant output):

    seen = capture(model, x, y)                  # forward and backward hooks on every activation module
    plot_layer(seen, layer=14)                   # that layer's activations and gradients, as histograms
    LayerHistograms(make_capture, schemes).widget  # steps through init schemes and layers (a thin layer)
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn

from .checks import integer
from .plotting import figure_to_png
from .widget_style import ERROR, picture, status_html

#: the modules whose outputs are a layer's activations (the output of a Linear followed by its activation)
ACTIVATIONS = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.LeakyReLU)


@dataclass
class Capture:
    """What the hooks saw in one forward and backward pass: per activation module, in order, its output
    (``activations[k]``, images x units) and the loss's gradient with respect to that output (``gradients[k]``)."""

    names: list[str]
    activations: list[torch.Tensor]
    gradients: list[torch.Tensor]

    def __len__(self) -> int:
        return len(self.names)


def capture(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
            modules: Sequence[type] = ACTIVATIONS) -> Capture:
    """Run ``model`` on ``x`` and backward the summed cross-entropy with ``y`` (each row of a gradient is then one
    image's gradient); a forward hook and a full backward hook on every module of a type in ``modules`` keep its
    output and the gradient of the loss with respect to it. The hooks are removed afterwards, and the model's
    parameter gradients are left as the pass made them."""
    chosen = [(name, module) for name, module in model.named_modules() if isinstance(module, tuple(modules))]
    if not chosen:
        raise ValueError(f"model has no module of the types {[m.__name__ for m in modules]} to hook")
    names = [name for name, _ in chosen]
    index = {id(module): k for k, (_, module) in enumerate(chosen)}
    activations: list = [None] * len(chosen)
    gradients: list = [None] * len(chosen)

    def forward_hook(module, _inputs, output):
        activations[index[id(module)]] = output.detach().clone()

    def backward_hook(module, _grad_inputs, grad_outputs):
        gradients[index[id(module)]] = grad_outputs[0].detach().clone()

    handles = []
    try:
        for _, module in chosen:
            handles.append(module.register_forward_hook(forward_hook))
            handles.append(module.register_full_backward_hook(backward_hook))
        F.cross_entropy(model(x), y, reduction="sum").backward()
    finally:
        for handle in handles:
            handle.remove()
    if any(a is None for a in activations) or any(g is None for g in gradients):
        raise RuntimeError("a hooked module was not used in the forward pass, or got no gradient")
    return Capture(names, activations, gradients)


def spread_across_images(values: torch.Tensor) -> float:
    """How much a layer's output depends on the image: each unit's std over the images, averaged over units."""
    return values.std(dim=0).mean().item()


def spread_across_units(values: torch.Tensor) -> float:
    """How much the units differ: the std over units of each unit's mean output."""
    return values.mean(dim=0).std().item()


def _histogram(ax, values: torch.Tensor, colour: str, what: str, reach: float) -> None:
    """``values`` in 60 bins over ``[-reach, reach]``, the same for every layer of a network: a layer whose values
    vanish shows as a spike at 0, one whose values explode as the widest histogram."""
    flat = values.flatten().double().numpy()
    largest = float(np.abs(flat).max())
    ax.hist(np.clip(flat, -reach, reach), bins=np.linspace(-reach, reach, 61), color=colour, alpha=0.85)
    ax.set_yscale("log")
    ax.set(xlim=(-reach, reach), xlabel=f"{what} (this layer's largest |value| {largest:.1e})", ylabel="count (log)")
    ax.grid(alpha=0.3)


def reach(values: Sequence[torch.Tensor]) -> float:
    """The largest |value| over every layer: the x-range ``plot_layer`` shares between a network's layers."""
    return max(float(v.abs().max()) for v in values) or 1.0


def plot_layer(seen: Capture, layer: int, *, title: str = "") -> Figure:
    """Two histograms of hidden layer ``layer`` (0 is the first): its activations over every image and unit, and
    the gradients that reach them, each on one x-range for all the network's layers (``reach``), so that stepping
    through the layers shows values shrink or grow; the titles give each one's std and the share of the
    activations' spread that comes from the image (the rest is a pattern fixed across images)."""
    layer = integer(layer, "layer", minimum=0)
    if layer >= len(seen):
        raise ValueError(f"layer must be from 0 to {len(seen) - 1} (the model has {len(seen)} hooked layers), "
                         f"got {layer}")
    acts, grads = seen.activations[layer], seen.gradients[layer]
    images, units = spread_across_images(acts), spread_across_units(acts)
    fig = Figure(figsize=(7.2, 3.0), layout="constrained")
    ax_a, ax_g = fig.subplots(1, 2)
    _histogram(ax_a, acts, "#0072B2", "activation", reach(seen.activations))
    _histogram(ax_g, grads, "#D55E00", "gradient", reach(seen.gradients))
    ax_a.set_title(f"activations: std {acts.std().item():.1e}\nacross images {images:.1e}, across units {units:.1e}",
                   fontsize=9)
    ax_g.set_title(f"gradients: std {grads.std().item():.1e}", fontsize=9)
    fig.suptitle(title or f"layer {layer + 1} of {len(seen)}", fontsize=10)
    return fig


class LayerHistograms:
    """A dropdown of initialization schemes and a layer slider over ``plot_layer``. ``make_capture(scheme)``
    returns the ``Capture`` of a freshly initialized model (computed when the scheme is chosen, so only one is
    kept). A thin layer: every change calls ``update``; a callback never raises (the status says why)."""

    def __init__(self, make_capture: Callable[[str], Capture], schemes: Sequence[str], *, layer: int = 0,
                 dpi: int = 100):
        import ipywidgets as w

        if isinstance(schemes, str) or not schemes:
            raise ValueError(f"schemes must be a non-empty list of names, got {schemes!r}")
        self.make_capture, self.dpi = make_capture, dpi
        self.scheme = w.Dropdown(options=list(schemes), value=schemes[0], description="scheme")
        self.seen = make_capture(schemes[0])
        self.layer = w.IntSlider(value=integer(layer, "layer", minimum=0) + 1, min=1, max=len(self.seen),
                                 description="layer", continuous_update=False)
        self.image = picture()
        self.status = w.HTML()
        self.updates = 0
        self.scheme.observe(self._scheme_changed, names="value")
        self.layer.observe(self._safely, names="value")
        self.widget = w.VBox([w.HBox([self.scheme, self.layer]), self.status, self.image],
                             layout=w.Layout(overflow="auto"))
        self.widget.add_class("optim-widget")
        self.update()

    def _scheme_changed(self, _change=None) -> None:
        try:
            self.seen = self.make_capture(self.scheme.value)
        except Exception as err:  # noqa: BLE001 - shown, not raised into the front end
            self.status.value = status_html(f"Could not build {html.escape(str(self.scheme.value))}: "
                                            f"{type(err).__name__}: {html.escape(str(err))}", ERROR)
            return
        self._safely()

    def _safely(self, _change=None) -> None:
        try:
            self.update()
        except Exception as err:  # noqa: BLE001 - shown, not raised into the front end
            self.status.value = status_html(f"Could not draw: {type(err).__name__}: {html.escape(str(err))}", ERROR)

    def update(self) -> Figure:
        """Draw the chosen scheme's chosen layer (the slider counts from 1)."""
        layer = int(self.layer.value) - 1
        fig = plot_layer(self.seen, layer, title=f"{self.scheme.value}: layer {layer + 1} of {len(self.seen)}")
        self.image.value = figure_to_png(fig, self.dpi)
        acts = self.seen.activations[layer]
        self.status.value = status_html(f"{html.escape(str(self.scheme.value))}, layer {layer + 1}: activations' "
                                        f"std {acts.std().item():.2g}, gradients' std "
                                        f"{self.seen.gradients[layer].std().item():.2g}")
        self.updates += 1
        return fig
