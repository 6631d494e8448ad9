"""Tests for utils/schedules.py (learning-rate schedules, notebook 04)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch.optim import lr_scheduler

from utils import schedules


def test_warmup_factor_ramps_linearly_then_holds():
    factors = [schedules.warmup_factor(step, 4) for step in range(8)]
    assert factors == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("decay, middle", [("linear", 0.5), ("cosine", 0.5)])
def test_warmup_factor_decays_to_min_factor(decay, middle):
    f = [schedules.warmup_factor(step, 10, total_steps=110, decay=decay, min_factor=0.1) for step in range(130)]
    assert f[9] == 1.0 and f[10] == 1.0
    assert f[60] == pytest.approx(0.1 + 0.9 * middle)
    assert f[110] == pytest.approx(0.1) and f[129] == pytest.approx(0.1)
    assert all(b <= a + 1e-12 for a, b in zip(f[10:], f[11:]))


def test_linear_warmup_sets_the_optimizer_learning_rate():
    weight = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=0.2)
    scheduler = schedules.linear_warmup(optimizer, 5)
    seen = []
    for _ in range(8):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert np.allclose(seen, [0.04, 0.08, 0.12, 0.16, 0.2, 0.2, 0.2, 0.2])


def test_lr_curve_matches_the_closed_forms():
    steps = np.arange(50)
    step_lr = schedules.lr_curve(lambda opt: lr_scheduler.StepLR(opt, step_size=10, gamma=0.5), 50, lr=0.4)
    assert np.allclose(step_lr, 0.4 * 0.5 ** (steps // 10))
    cosine = schedules.lr_curve(lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=50), 50, lr=0.4)
    assert np.allclose(cosine, 0.2 * (1 + np.cos(np.pi * steps / 50)))
    warm = schedules.lr_curve(lambda opt: schedules.linear_warmup(opt, 10, total_steps=50, decay="cosine"), 50, lr=1.0)
    assert np.allclose(warm[:10], (steps[:10] + 1) / 10)
    assert warm[10] == pytest.approx(1.0) and warm[-1] < 0.01


def test_lr_curve_runs_one_cycle_to_its_last_step():
    curve = schedules.lr_curve(lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=40), 40)
    assert len(curve) == 40
    assert curve.max() == pytest.approx(1.0, rel=1e-2) and math.isclose(curve[0], 1.0 / 25)


def test_schedule_functions_reject_bad_arguments():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="warmup_steps"):
        schedules.linear_warmup(optimizer, 0)
    with pytest.raises(ValueError, match="decay must be one of"):
        schedules.linear_warmup(optimizer, 5, total_steps=10, decay="exponential")
    with pytest.raises(ValueError, match="total_steps is required"):
        schedules.linear_warmup(optimizer, 5, decay="cosine")
    with pytest.raises(ValueError, match="total_steps"):
        schedules.linear_warmup(optimizer, 5, total_steps=5, decay="linear")
    with pytest.raises(ValueError, match="min_factor"):
        schedules.linear_warmup(optimizer, 5, total_steps=10, decay="linear", min_factor=2.0)
    with pytest.raises(ValueError, match="steps"):
        schedules.lr_curve(lambda opt: lr_scheduler.StepLR(opt, 1), 0)
    with pytest.raises(ValueError, match="lr must be"):
        schedules.lr_curve(lambda opt: lr_scheduler.StepLR(opt, 1), 5, lr=0.0)
    with pytest.raises(ValueError, match="make_scheduler must return"):
        schedules.lr_curve(lambda opt: opt, 5)
    with pytest.raises(ValueError, match="curves"):
        schedules.plot_lr_curves({})


def test_plot_lr_curves_draws_one_panel_per_schedule():
    fig = schedules.plot_lr_curves({"a": [0.1, 0.05], "b": [0.1, 0.1, 0.1]}, log_scale=True)
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    assert fig.axes[0].get_yscale() == "log"
