"""Layer histograms (utils.hooks): the hooks see what the model computed, and the widget redraws on every change."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from utils import hooks


def small_net(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3))


def test_capture_keeps_each_activation_and_its_gradient():
    model, x, y = small_net(), torch.randn(8, 6), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    seen = hooks.capture(model, x, y)
    assert seen.names == ["1", "3"] and len(seen) == 2
    # the same values computed by hand: the outputs, and dL/dh through retain_grad
    h1 = model[1](model[0](x))
    h1.retain_grad()
    h3 = model[3](model[2](h1))
    h3.retain_grad()
    torch.nn.functional.cross_entropy(model[4](h3), y, reduction="sum").backward()
    for got, want in zip(seen.activations, (h1, h3)):
        assert torch.equal(got, want.detach())
    for got, want in zip(seen.gradients, (h1.grad, h3.grad)):
        assert torch.allclose(got, want)
    assert not any(m._forward_hooks or m._backward_hooks for m in model)  # the hooks are removed


def test_capture_removes_its_hooks_when_the_pass_fails_and_names_a_model_without_activations():
    model = small_net()
    with pytest.raises(RuntimeError):
        hooks.capture(model, torch.randn(8, 7), torch.zeros(8, dtype=torch.long))  # wrong width
    assert not any(m._forward_hooks or m._backward_hooks for m in model)
    with pytest.raises(ValueError, match="no module"):
        hooks.capture(nn.Linear(3, 2), torch.randn(2, 3), torch.zeros(2, dtype=torch.long))


def test_spreads_tell_image_dependence_from_a_fixed_pattern():
    fixed = torch.arange(5.0).repeat(10, 1)  # every image the same: units differ, images do not
    assert hooks.spread_across_images(fixed) == 0 and hooks.spread_across_units(fixed) > 1
    varied = torch.randn(200, 5)
    assert hooks.spread_across_images(varied) > 0.5 > hooks.spread_across_units(varied)


def test_plot_layer_checks_the_layer():
    seen = hooks.capture(small_net(), torch.randn(8, 6), torch.zeros(8, dtype=torch.long))
    assert len(hooks.plot_layer(seen, 1).axes) == 2
    with pytest.raises(ValueError, match="layer must be from 0 to 1"):
        hooks.plot_layer(seen, 2)


def test_widget_steps_through_schemes_and_layers():
    x, y = torch.randn(8, 6), torch.zeros(8, dtype=torch.long)
    built = []

    def make(scheme):
        built.append(scheme)
        return hooks.capture(small_net(seed={"a": 0, "b": 1}[scheme]), x, y)

    view = hooks.LayerHistograms(make, ["a", "b"], layer=1)
    first, updates = view.image.value, view.updates
    assert view.layer.value == 2 and view.layer.max == 2 and built == ["a"]
    view.layer.value = 1
    assert view.updates == updates + 1 and view.image.value != first and "layer 1" in view.status.value
    view.scheme.value = "b"
    assert built == ["a", "b"] and view.updates == updates + 2 and "b, layer 1" in view.status.value


def test_widget_shows_an_error_instead_of_raising():
    x, y = torch.randn(8, 6), torch.zeros(8, dtype=torch.long)

    def make(scheme):
        if scheme == "broken":
            raise RuntimeError("boom")
        return hooks.capture(small_net(), x, y)

    view = hooks.LayerHistograms(make, ["fine", "broken"])
    view.scheme.value = "broken"  # must not raise
    assert "Could not build broken" in view.status.value and "boom" in view.status.value
    with pytest.raises(ValueError, match="schemes"):
        hooks.LayerHistograms(make, [])


def test_every_layer_is_drawn_on_one_x_range_so_a_vanishing_layer_is_a_spike_at_zero():
    # a review found each layer rescaled to its own values: a vanished layer looked like the first one
    torch.manual_seed(0)
    layers = []
    for _ in range(6):
        linear = nn.Linear(16, 16, bias=False)
        nn.init.normal_(linear.weight, std=0.01)  # too small: each layer shrinks the signal about 25-fold
        layers += [linear, nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(16, 3))
    seen = hooks.capture(model, torch.randn(64, 16), torch.randint(0, 3, (64,)))
    first, last = hooks.plot_layer(seen, 0).axes[0], hooks.plot_layer(seen, 5).axes[0]
    assert first.get_xlim() == last.get_xlim()
    counts = [patch.get_height() for patch in last.patches]
    middle = len(counts) // 2
    assert sum(counts[middle - 1:middle + 1]) == sum(counts)  # every value of the last layer in the bins at 0
