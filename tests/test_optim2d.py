"""Tests for utils/optim2d.py (the 2-D optimizer race of notebook 04) and notebook 04's exercises."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from utils import optim2d
from utils.exercises import exercises_for


# ----------------------------------------------------------------------------------------------- test functions
@pytest.mark.parametrize("name", list(optim2d.FUNCTIONS))
def test_minimum_is_a_minimum(name):
    fn = optim2d.FUNCTIONS[name]
    point = torch.tensor(fn.minimum, dtype=torch.float64, requires_grad=True)
    value = fn.loss(point)
    value.backward()
    assert value.item() == pytest.approx(0.0, abs=1e-12)
    assert point.grad.abs().max().item() < 1e-9
    assert fn.loss(torch.tensor(fn.start, dtype=torch.float64)).item() > 0.1  # the start is not already there


def test_functions_work_on_grids():
    fn = optim2d.get_function("rosenbrock")
    grid = fn(torch.zeros(3, 4, dtype=torch.float64), torch.ones(3, 4, dtype=torch.float64))
    assert grid.shape == (3, 4) and torch.allclose(grid, torch.full((3, 4), 101.0, dtype=torch.float64))


def test_get_function_rejects_unknown_names():
    with pytest.raises(ValueError, match="function must be one of quadratic"):
        optim2d.get_function("himmelblau")
    fn = optim2d.FUNCTIONS["beale"]
    assert optim2d.get_function(fn) is fn


# ----------------------------------------------------------------------------------------------- trajectories
def test_trajectory_records_every_point_and_loss():
    path = optim2d.trajectory("quadratic", optim2d.optimizer_factory("sgd", 0.01), steps=50)
    assert path.points.shape == (51, 2) and path.losses.shape == (51,)
    assert np.allclose(path.points[0], optim2d.FUNCTIONS["quadratic"].start)
    assert not path.diverged
    assert path.final_loss < path.losses[0] / 2
    # one plain gradient step by hand: p - lr * grad, grad of (x^2 + 50 y^2)/2 is (x, 50 y)
    x, y = optim2d.FUNCTIONS["quadratic"].start
    assert np.allclose(path.points[1], [x - 0.01 * x, y - 0.01 * 50 * y])


def test_trajectory_flags_divergence_and_stops():
    path = optim2d.trajectory("quadratic", optim2d.optimizer_factory("sgd", 0.1), steps=500)  # limit is 2/50
    assert path.diverged
    assert path.final_loss == math.inf
    assert len(path.points) == len(path.losses) < 100
    assert np.all(path.losses <= optim2d.DIVERGED_LOSS)


def test_trajectory_accepts_any_optimizer_with_zero_grad_and_step():
    class PlainSGD:
        def __init__(self, params, lr):
            self.params, self.lr = list(params), lr

        def zero_grad(self):
            for p in self.params:
                p.grad = None

        @torch.no_grad()
        def step(self):
            for p in self.params:
                p -= self.lr * p.grad

    ours = optim2d.trajectory("beale", lambda params: PlainSGD(params, 1e-3), steps=40)
    theirs = optim2d.trajectory("beale", optim2d.optimizer_factory("sgd", 1e-3), steps=40)
    assert np.allclose(ours.points, theirs.points)


def test_clipping_caps_the_step_length():
    lr, max_norm = 1e-3, 5.0
    path = optim2d.trajectory("rosenbrock", optim2d.optimizer_factory("sgd", lr), steps=30, max_grad_norm=max_norm)
    steps = np.linalg.norm(np.diff(path.points, axis=0), axis=1)
    assert steps.max() <= lr * max_norm * (1 + 1e-6)
    unclipped = optim2d.trajectory("rosenbrock", optim2d.optimizer_factory("sgd", lr), steps=30)
    assert np.linalg.norm(np.diff(unclipped.points, axis=0), axis=1).max() > lr * max_norm


def test_trajectory_rejects_bad_arguments():
    sgd = optim2d.optimizer_factory("sgd", 0.01)
    with pytest.raises(ValueError, match="steps"):
        optim2d.trajectory("quadratic", sgd, steps=0)
    with pytest.raises(ValueError, match="max_grad_norm"):
        optim2d.trajectory("quadratic", sgd, steps=5, max_grad_norm=-1.0)
    with pytest.raises(ValueError, match="start"):
        optim2d.trajectory("quadratic", sgd, steps=5, start=(1.0, 2.0, 3.0))


def test_optimizer_factory_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        optim2d.optimizer_factory("lbfgs", 0.1)
    with pytest.raises(ValueError, match="lr must be"):
        optim2d.optimizer_factory("sgd", 0.0)
    with pytest.raises(ValueError, match="momentum"):
        optim2d.optimizer_factory("momentum", 0.1, momentum=1.0)


# ----------------------------------------------------------------------------------------------- race and tuning
def test_race_runs_each_optimizer_with_its_learning_rate():
    result = optim2d.race("quadratic", lr=0.02, adaptive_lr=0.1, momentum=0.8, steps=40,
                          optimizers=("sgd", "momentum", "adam"), lrs={"adam": 0.05})
    assert list(result.trajectories) == ["sgd", "momentum", "adam"]
    assert result.trajectories["sgd"].settings == {"lr": 0.02}
    assert result.trajectories["momentum"].settings == {"lr": 0.02, "momentum": 0.8}
    assert result.trajectories["adam"].settings == {"lr": 0.05}  # lrs overrides adaptive_lr
    assert all(len(t.points) == 41 for t in result.trajectories.values())
    assert sorted(result.ranking()) == sorted(result.trajectories)


def test_race_defaults_come_from_the_function():
    result = optim2d.race("beale", optimizers=("sgd", "rmsprop"))
    fn = optim2d.FUNCTIONS["beale"]
    assert result.trajectories["sgd"].settings["lr"] == fn.lr
    assert result.trajectories["rmsprop"].settings["lr"] == fn.adaptive_lr
    assert len(result.trajectories["sgd"].points) == fn.steps + 1


def test_momentum_beats_plain_sgd_on_the_ill_conditioned_quadratic():
    losses = optim2d.race("quadratic", optimizers=("sgd", "momentum")).final_losses()
    assert losses["momentum"] < losses["sgd"] / 10


def test_race_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown optimizer 'adamax'"):
        optim2d.race("quadratic", optimizers=("sgd", "adamax"))
    with pytest.raises(ValueError, match="unknown optimizer 'newton'"):
        optim2d.race("quadratic", lrs={"newton": 1.0})
    with pytest.raises(ValueError, match="optimizers must be a non-empty list"):
        optim2d.race("quadratic", optimizers="sgd")
    with pytest.raises(ValueError, match="adaptive_lr"):
        optim2d.race("quadratic", adaptive_lr=-1.0)
    with pytest.raises(ValueError, match="momentum"):
        optim2d.race("quadratic", momentum=1.5)


def test_tune_lr_keeps_the_best_and_counts_divergence_as_inf():
    best, results = optim2d.tune_lr("quadratic", "sgd", [1e-3, 0.03, 0.1], steps=100)
    assert best == 0.03  # 1e-3 crawls, 0.1 is above the stability limit 2/50
    assert results[0.1] == math.inf
    assert results[0.03] < results[1e-3]
    with pytest.raises(ValueError, match="lrs"):
        optim2d.tune_lr("quadratic", "sgd", [])


def test_tune_lr_never_returns_a_diverged_rate():
    # reliability review 3.9: every rate diverges -> it used to return 10.0 as "best"
    with pytest.raises(ValueError, match="every learning rate tried diverged"):
        optim2d.tune_lr("quadratic", "sgd", [10, 100])
    best, results = optim2d.tune_lr("quadratic", "sgd", [0.1, 1e-3, 10], steps=50)  # only 1e-3 converges
    assert best == 1e-3 and results[0.1] == math.inf and results[10.0] == math.inf


@pytest.mark.parametrize("function", ["rosenbrock", "quadratic", "beale"])
def test_race_runs_at_momentum_zero(function):
    # reliability review 3.5: torch refuses Nesterov with momentum 0; at 0 both momentum kinds are plain SGD
    result = optim2d.race(function, momentum=0.0, steps=30)
    sgd = result.trajectories["sgd"].points
    assert np.allclose(result.trajectories["momentum"].points, sgd)
    assert np.allclose(result.trajectories["nesterov"].points, sgd)


def test_plot_race_draws_every_path():
    result = optim2d.race("rosenbrock", steps=20, optimizers=("sgd", "adam"))
    fig = optim2d.plot_race(result, title="test")
    assert isinstance(fig, Figure)
    ax_map, ax_loss = fig.axes[:2]
    assert ax_map.get_title() == "test"
    assert [line.get_label() for line in ax_loss.get_lines()][0].startswith("sgd (lr=0.001")
    assert len(ax_loss.get_lines()) == 2


def test_plot_race_tells_divergence_and_uses_distinct_styles():
    result = optim2d.race("rosenbrock", lr=0.05, steps=50)  # the SGD family diverges at this rate
    assert optim2d.diverged_names(result) == ["sgd", "momentum", "nesterov"]
    fig = optim2d.plot_race(result)
    ax_loss = fig.axes[1]
    assert "diverged: sgd, momentum, nesterov" in ax_loss.get_title()
    lines = ax_loss.get_lines()
    assert len({line.get_linestyle() for line in lines}) == len(lines)  # not colour alone
    assert len({line.get_color() for line in lines}) == len(lines)
    assert ax_loss.get_legend().get_texts()[0].get_fontsize() >= 9
    status = optim2d.status_line(result)
    assert "diverged" in status and "nesterov" in status and "adam" in status
    assert "every path diverged" in optim2d.status_line(optim2d.race("quadratic", lr=1.0, optimizers=("sgd",)))


# ----------------------------------------------------------------------------------------------- the widget
def _race_signature(explorer):
    return {name: t.points.copy() for name, t in explorer.race.trajectories.items()}


@pytest.mark.slow  # renders the race's figures
def test_widget_sliders_rerun_the_race():
    explorer = optim2d.race_explorer("quadratic", optimizers=("sgd", "momentum", "adam"))
    assert explorer.updates == 1 and explorer.race.function.name == "quadratic"
    for slider in (explorer.lr, explorer.adaptive_lr, explorer.momentum, explorer.steps):
        assert slider.continuous_update is False
    first_image, first_paths = explorer.image.value, _race_signature(explorer)
    assert len(first_image) > 1000  # a PNG was drawn

    explorer.lr.value = 0.01
    assert explorer.updates == 2
    assert explorer.race.trajectories["sgd"].settings["lr"] == pytest.approx(0.01)
    assert not np.allclose(explorer.race.trajectories["sgd"].final_point, first_paths["sgd"][-1])
    assert np.allclose(explorer.race.trajectories["adam"].points, first_paths["adam"])  # its own slider
    assert explorer.image.value != first_image

    explorer.momentum.value = 0.5
    assert explorer.race.trajectories["momentum"].settings["momentum"] == pytest.approx(0.5)
    explorer.adaptive_lr.value = 0.01
    assert explorer.race.trajectories["adam"].settings["lr"] == pytest.approx(0.01)
    explorer.steps.value = 30
    assert all(len(t.points) == 31 for t in explorer.race.trajectories.values())
    assert "lowest final loss" in explorer.status.value


@pytest.mark.slow  # renders the race's figures
def test_widget_every_slider_at_both_ends():
    """Each slider driven to its minimum and maximum: no exception escapes, the state stays consistent.

    Reliability review 3.5: momentum's minimum 0.0 used to crash the Nesterov racer inside the callback.
    """
    explorer = optim2d.race_explorer("rosenbrock")
    # the adaptive slider names the racers it moves (review r3, 26: it said "rmsprop" with no RMSprop racing)
    assert explorer.adaptive_lr.description == "lr (adam)"
    # steps first, max then min, so the other sliders' races are short (10 steps)
    for slider in (explorer.steps, explorer.lr, explorer.adaptive_lr, explorer.momentum):
        for end in ((slider.max, slider.min) if slider is explorer.steps else (slider.min, slider.max)):
            before = explorer.updates
            if slider is explorer.lr or slider is explorer.adaptive_lr:
                end = slider.base ** end  # log sliders: min/max are exponents
            slider.value = end
            assert explorer.error is None, explorer.error
            assert explorer.updates == before + 1
            settings = {name: t.settings for name, t in explorer.race.trajectories.items()}
            assert settings["sgd"]["lr"] == pytest.approx(explorer.lr.value)
            assert settings["adam"]["lr"] == pytest.approx(explorer.adaptive_lr.value)
            assert settings["nesterov"]["momentum"] == pytest.approx(explorer.momentum.value)
            assert "lowest final loss" in explorer.status.value or "every path diverged" in explorer.status.value
    explorer.reset.click()
    assert explorer.error is None and explorer.steps.value == optim2d.FUNCTIONS["rosenbrock"].steps


@pytest.mark.slow  # renders the race's figures
def test_widget_callback_shows_an_error_instead_of_raising(monkeypatch):
    explorer = optim2d.race_explorer("quadratic", optimizers=("sgd", "momentum"))
    kept_race, kept_image, updates = explorer.race, explorer.image.value, explorer.updates

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(optim2d, "race", broken)
    explorer.lr.value = 0.01  # the callback must not raise
    assert explorer.error == "RuntimeError: boom"
    assert "Could not run the race" in explorer.status.value and optim2d.ERROR in explorer.status.value
    assert explorer.race is kept_race and explorer.image.value == kept_image and explorer.updates == updates
    explorer.function.value = "beale"  # the dropdown's callback too
    assert "boom" in explorer.status.value
    monkeypatch.undo()
    explorer.lr.value = float("nan")  # review 3.6: not reachable from the UI, but must not escape either
    assert "lr must be" in explorer.error and explorer.race is kept_race
    explorer.lr.value = 0.02
    assert explorer.error is None and explorer.updates == updates + 1 and "lowest final loss" in explorer.status.value


def test_widget_reset_button_label_fits():
    explorer = optim2d.race_explorer("quadratic", optimizers=("sgd",))
    assert explorer.reset.layout.width == "240px"  # wide enough for "reset to suggested values" (was cut off)


@pytest.mark.slow  # renders the race's figures
def test_widget_function_change_resets_the_sliders_and_draws_once():
    explorer = optim2d.race_explorer("quadratic", optimizers=("sgd", "adam"))
    explorer.lr.value = 1e-4
    before = explorer.updates
    explorer.function.value = "beale"
    fn = optim2d.FUNCTIONS["beale"]
    assert explorer.updates == before + 1
    assert explorer.race.function.name == "beale"
    assert explorer.lr.value == pytest.approx(fn.lr, rel=0.15)  # the log slider snaps to its 0.1-decade steps
    assert explorer.steps.value == fn.steps
    explorer.lr.value = 1e-4
    explorer.reset.click()
    assert explorer.lr.value == pytest.approx(fn.lr, rel=0.15)
    assert explorer.race.trajectories["sgd"].settings["lr"] == pytest.approx(explorer.lr.value)


# ----------------------------------------------------------------------------------------------- notebook 04 exercises
@pytest.mark.parametrize("name", ["q1", "q2", "q3", "q4", "q5"])
def test_exercises_accept_the_reference_and_reject_the_typical_mistake(name):
    exercise = getattr(exercises_for("04"), name)
    assert exercise.check(exercise.reference()).correct
    result = exercise.check(exercise.typical_mistake())
    assert result.status == "incorrect" and result.message
    assert exercise.check(...).status == "not attempted"


def test_adagrad_checker_reports_a_broken_class():
    ex = exercises_for("04")

    class Broken:
        def __init__(self, params, lr):
            self.params = list(params)

        def zero_grad(self):
            pass

        def step(self):
            pass

    result = ex.q2.check(Broken)
    assert result.status == "incorrect" and "did not change" in result.message
    assert ex.q2.check(Broken([], lr=0.1)).status == "incorrect"  # an instance, not the class
    assert ex.q1.check("fast").status == "incorrect"
    assert ex.q3.check(0.5).status == "incorrect"


def test_stability_limit_checker_wants_the_limit_itself():
    q1 = exercises_for("04").q1
    assert q1.check(2 / 80).correct and q1.check(0.025).correct
    for wrong, reason in ((2 / 40, "SECOND derivative"), (2 / 6, "flat direction"), (1 / 80, "one step"),
                          (0.0249, "limit itself"), (0.0251, "diverges"), (-1, "> 0")):
        result = q1.check(wrong)
        assert result.status == "incorrect" and reason in result.message, (wrong, result)


def test_q1_answer_is_not_printed_by_the_notebook_before_the_exercise():
    # the notebook's worked example is the quadratic of curvatures 1 and 50 (limit 2/50); q1 asks about 6 and 80
    import json
    from pathlib import Path

    cells = json.loads((Path(__file__).parents[1] / "notebooks" / "04_optimizers.ipynb").read_text())["cells"]
    before = "".join("".join(c["source"]) for c in cells[: next(i for i, c in enumerate(cells)
                                                                 if "## Exercises" in "".join(c["source"]))])
    assert "2 / 80" not in before and "0.025 is the limit" not in before


def test_momentum_tuning_checker_catches_the_unsquared_rate_and_the_plain_gd_rate():
    q4 = exercises_for("04").q4
    root = math.sqrt(50)
    assert "convergence RATE" in q4.check(lambda mu, L: ((2 / (1 + math.sqrt(L))) ** 2, (root - 1) / (root + 1))).message
    best_beta = ((root - 1) / (root + 1)) ** 2
    assert "WITHOUT momentum" in q4.check(lambda mu, L: (2 / (mu + L), best_beta)).message
    assert q4.check(42).status == "incorrect"


def test_tuned_momentum_really_contracts_as_predicted():
    """The q4 answer, run on the race quadratic (curvatures 1, 50): the measured contraction per step is the predicted."""
    lr, beta = exercises_for("04").q4.reference()(1.0, 50.0)
    path = optim2d.trajectory("quadratic", optim2d.optimizer_factory("momentum", lr, beta), steps=200)
    distance = np.linalg.norm(path.points, axis=1)
    root = math.sqrt(50)
    assert (distance[200] / distance[100]) ** (1 / 100) == pytest.approx((root - 1) / (root + 1), rel=0.01)


def test_noise_floor_answer_matches_a_simulation():
    floor = exercises_for("04").q5.reference()
    gen = torch.Generator().manual_seed(0)
    x = torch.zeros(20000, dtype=torch.float64)
    lr, curvature, var = 0.3, 2.0, 0.5
    for _ in range(300):
        x = x - lr * (curvature * x + math.sqrt(var) * torch.randn(20000, generator=gen, dtype=torch.float64))
    assert (x**2).mean().item() == pytest.approx(floor(lr, curvature, var), rel=0.05)
    assert "small-lr approximation" in exercises_for("04").q5.check(lambda a, b, c: a * c / (2 * b)).message


# ----------------------------------------------------------------------------------------------- the momentum map
def test_momentum_rate_is_the_larger_root():
    for lr, beta, curvature in ((0.025, 0.9, 50.0), (0.025, 0.9, 1.0), (0.038, 0.5, 50.0), (0.01, 0.0, 50.0),
                                (0.09, 0.7, 50.0)):
        expected = max(abs(np.roots([1.0, -(1 + beta - lr * curvature), beta])))
        assert optim2d.momentum_rate(lr, beta, curvature) == pytest.approx(expected, rel=1e-12)
    assert optim2d.momentum_rate(0.025, 0.9, 50.0) == pytest.approx(math.sqrt(0.9))  # complex roots: sqrt(beta)


def test_the_map_crosses_1_at_the_formulas_edge_and_is_lowest_at_the_best_tuning():
    betas = np.linspace(0.0, 0.99, 100)
    edge = optim2d.stability_edge(betas)
    inside = [optim2d.momentum_map([0.99 * e], [b])[0, 0] for e, b in zip(edge, betas)]
    outside = [optim2d.momentum_map([1.01 * e], [b])[0, 0] for e, b in zip(edge, betas)]
    assert max(inside) < 1 < min(outside)
    lrs = np.logspace(-3, math.log10(0.2), 400)
    rates = optim2d.momentum_map(lrs, betas)
    row, column = np.unravel_index(rates.argmin(), rates.shape)
    best_lr, best_beta, best_rate = optim2d.best_momentum()
    assert lrs[column] == pytest.approx(best_lr, rel=0.03) and betas[row] == pytest.approx(best_beta, abs=0.02)
    assert rates.min() == pytest.approx(best_rate, rel=0.01)


@pytest.mark.slow  # renders the race's figures
def test_the_map_widget_follows_the_race_sliders():
    explorer = optim2d.race_explorer("quadratic", optimizers=("sgd", "momentum"))
    view = optim2d.momentum_map_widget(explorer)
    first, updates = view.image.value, view.updates
    assert view.rate == pytest.approx(math.sqrt(0.9))  # lr 0.025, momentum 0.9: the race's own setting
    explorer.momentum.value = 0.5
    assert view.updates == updates + 1 and view.image.value != first
    assert view.rate == pytest.approx(optim2d.momentum_map([0.025], [0.5])[0, 0])
    explorer.lr.value = 0.1  # beyond the edge at momentum 0.5 (lr 0.06)
    assert view.rate > 1 and "outside the stable region" in view.status.value
    explorer.lr.value = 1e-5  # off the map to the left: drawn at its edge, said in the title
    assert "off the map" in optim2d.plot_momentum_map(1e-5, 0.5).axes[0].get_title()


@pytest.mark.slow  # renders the race's figures
def test_the_map_widget_shows_an_error_instead_of_raising(monkeypatch):
    explorer = optim2d.race_explorer("quadratic", optimizers=("sgd",))
    view = optim2d.momentum_map_widget(explorer)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(optim2d, "plot_momentum_map", broken)
    explorer.momentum.value = 0.3  # must not raise
    assert "Could not redraw the map" in view.status.value and "boom" in view.status.value


@pytest.mark.slow  # renders the race's figures
def test_race_widgets_keep_their_picture_size_and_the_restart_note():
    explorer = optim2d.race_explorer("quadratic", optimizers=("sgd",))
    view = optim2d.momentum_map_widget(explorer)
    for widget in (explorer, view):
        assert widget.image.layout.max_width == "none" and "optim-widget" in widget.widget._dom_classes
        assert "optim-restart-note" in widget.status.value
