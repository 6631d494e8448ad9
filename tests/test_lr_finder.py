"""The learning-rate range test (utils/lr_finder.py, notebooks/05_hyperparameters.ipynb)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import InterruptingLoss
from matplotlib.figure import Figure
from torch import nn

from utils import MLP, TensorLoader, smooth
from utils.experiments import explorer_data
from utils.lr_finder import LRFindResult, lr_find, lr_schedule, suggest_lr


@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny: one CPU thread is faster, and far faster when other jobs share the CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def small(digits):
    return explorer_data(digits, per_class=30, val_size=30, device="cpu")


def make_model(data, seed=0):
    torch.manual_seed(seed)
    return MLP(data.input_shape, data.num_classes, hidden=32)


def loader(data, batch_size=32):
    return TensorLoader(data.train, batch_size, shuffle=True, seed=0)


def test_schedule_is_exponential_from_start_to_end():
    lrs = lr_schedule(1e-5, 10.0, 61)
    assert lrs[0] == pytest.approx(1e-5) and lrs[-1] == pytest.approx(10.0)
    ratios = lrs[1:] / lrs[:-1]
    assert np.allclose(ratios, ratios[0]) and ratios[0] > 1


def test_weights_optimizer_state_and_mode_are_restored(small):
    model = make_model(small)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = small.train.tensors
    for _ in range(3):  # give Adam some state worth restoring
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x[:32]), y[:32]).backward()
        optimizer.step()
    model.eval()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    state = {id(p): {k: (v.clone() if torch.is_tensor(v) else v) for k, v in s.items()}
             for p, s in optimizer.state.items()}

    result = lr_find(model, loader(small), optimizer, start_lr=1e-4, end_lr=10.0, num_steps=40, device="cpu")
    assert len(result.lrs) > 5  # it really trained with other learning rates meanwhile

    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert optimizer.param_groups[0]["lr"] == 1e-3
    for p, s in optimizer.state.items():
        for key, value in s.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(state[id(p)][key])), key
    assert model.training is False
    # and training goes on from exactly where it was: the next Adam step uses the restored step count
    assert int(optimizer.state[next(iter(model.parameters()))]["step"]) == 3


def test_fresh_optimizer_is_left_without_state(small):
    model = make_model(small)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    lr_find(model, loader(small), optimizer, num_steps=20, device="cpu")
    assert len(optimizer.state) == 0  # momentum buffers built during the sweep are gone
    assert optimizer.param_groups[0]["lr"] == 0.01 and model.training


def test_records_smoothed_loss_and_suggests_a_tenth_of_the_minimum(small):
    result = lr_find(make_model(small), loader(small), "sgd", start_lr=1e-4, end_lr=1.0, num_steps=30,
                     smoothing=0.8, device="cpu")
    n = len(result.lrs)
    assert n == len(result.losses) == len(result.smoothed) == 30
    assert np.allclose(result.lrs, lr_schedule(1e-4, 1.0, 30))
    assert np.allclose(result.smoothed, smooth(result.losses, 0.8))  # the same smoothing as utils.smooth
    best = int(np.argmin(result.smoothed))
    assert result.lr_min_loss == result.lrs[best]
    assert result.suggestion == pytest.approx(result.lrs[best] / 10)
    assert result.stop_reason == "reached lr 1"


def test_stops_when_the_loss_exceeds_four_times_the_best(small):
    result = lr_find(make_model(small), loader(small), "sgd", start_lr=1e-3, end_lr=1e4, num_steps=200,
                     device="cpu")
    assert len(result.lrs) < 200 and "4x" in result.stop_reason
    smoothed = result.smoothed
    best_before_last = min(smoothed[:-1])
    assert smoothed[-1] > 4 * min(smoothed) or not math.isfinite(smoothed[-1])
    assert all(s <= 4 * min(smoothed[: i + 1]) for i, s in enumerate(smoothed[:-1]))
    assert result.lr_min_loss < result.lrs[-1] and best_before_last == min(smoothed)


def test_stops_on_a_non_finite_loss_and_still_restores(small):
    class NaNAfter(nn.Module):  # a loss that turns NaN at the 6th call
        def __init__(self):
            super().__init__()
            self.calls = 0

        def forward(self, logits, y):
            self.calls += 1
            loss = nn.functional.cross_entropy(logits, y)
            return loss * float("nan") if self.calls >= 6 else loss

    model = make_model(small)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    result = lr_find(model, loader(small), "sgd", loss_fn=NaNAfter(), num_steps=50, device="cpu")
    assert len(result.lrs) == 6 and "not finite" in result.stop_reason
    assert math.isfinite(result.suggestion) and result.suggestion in [lr / 10 for lr in result.lrs[:5]]
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())


def test_cycles_through_a_short_loader(small):
    tiny = TensorLoader(torch.utils.data.TensorDataset(*(t[:40] for t in small.train.tensors)), 20)
    result = lr_find(make_model(small), tiny, "sgd", start_lr=1e-5, end_lr=1e-3, num_steps=25, device="cpu")
    assert len(result.lrs) == 25  # 2 batches per pass, so 13 passes


def test_plot_has_a_log_x_axis(small):
    result = lr_find(make_model(small), loader(small), "adam", num_steps=20, device="cpu")
    fig = result.plot()
    assert isinstance(fig, Figure) and fig.axes[0].get_xscale() == "log"


def test_plot_shows_the_lowest_batch_loss():
    # the y-limits came from the smoothed curve alone and clipped the per-batch losses below it (review 2026-12-05b)
    result = LRFindResult(lrs=[1e-3, 1e-2, 1e-1, 1.0], losses=[2.0, 0.5, 3.0, 9.0], smoothed=[2.0, 1.5, 2.0, 4.0],
                          suggestion=1e-3, lr_min_loss=1e-2, stop_reason="test")
    bottom, top = result.plot().axes[0].get_ylim()
    assert bottom <= 0.5 and 4.0 <= top < 9.0  # the top still from the smoothed curve: a blown-up batch does not squash it


def test_suggest_lr_ignores_non_finite_values():
    assert suggest_lr([1e-3, 1e-2, 1e-1, 1.0], [2.0, 1.0, 0.5, float("nan")]) == pytest.approx(1e-2)
    assert suggest_lr([1e-3, 1e-2, 1e-1], [2.0, float("inf"), 2.5]) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="lrs and smoothed"):
        suggest_lr([1e-3], [1.0, 2.0])


# ----------------------------------------------------------------------------------------------- reliability review rows
def test_no_suggestion_from_a_sweep_without_a_finite_loss(small):  # review 3.12
    with pytest.raises(ValueError, match="no loss of the sweep is finite"):
        suggest_lr([1e-3, 1e-2], [float("inf"), float("nan")])
    nan_data = torch.utils.data.TensorDataset(torch.full_like(small.train.tensors[0], float("nan")),
                                              small.train.tensors[1])
    model = make_model(small)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="no loss of the sweep is finite"):
        lr_find(model, TensorLoader(nan_data, 32), "sgd", num_steps=20, device="cpu")
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())


def test_a_suggestion_below_the_swept_range_is_announced(small):  # review 3.12: the loss never fell
    with pytest.warns(UserWarning, match="below the swept range"):
        result = lr_find(make_model(small), loader(small), "sgd", start_lr=3.0, end_lr=1e6, num_steps=20,
                         device="cpu")
    assert result.lr_min_loss == result.lrs[0]
    assert result.suggestion < result.lrs[0]


def test_the_sweep_leaves_the_loaders_shuffle_and_the_global_rng_as_they_were(small):  # review 3.14
    used, fresh = loader(small), loader(small)
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(64, 10))  # dropout draws from the global RNG
    rng_before = torch.get_rng_state()
    lr_find(model, used, "sgd", num_steps=30, device="cpu")
    assert torch.equal(torch.get_rng_state(), rng_before)
    for (xa, ya), (xb, yb) in zip(used, fresh, strict=True):  # the next epoch is the one it would have been
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_an_optimizer_of_another_model_is_refused(small):  # review 1.21
    model, other = make_model(small), make_model(small, seed=1)
    with pytest.raises(ValueError, match="another model"):  # utils.training.check_optimizer_matches
        lr_find(model, loader(small), torch.optim.SGD(other.parameters(), lr=0.1), num_steps=10, device="cpu")


def test_an_interrupt_in_a_notebook_returns_the_sweep_so_far(small, monkeypatch):
    monkeypatch.setattr("utils.training.in_notebook", lambda: True)  # what on_interrupt="auto" asks
    model = make_model(small)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    result = lr_find(model, loader(small), "sgd", loss_fn=InterruptingLoss(6), num_steps=50, device="cpu")
    assert len(result.lrs) == 5 and result.stop_reason.startswith("interrupted")
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())


def test_an_interrupt_in_a_script_still_ends_it_after_the_restore(small, monkeypatch):
    monkeypatch.setattr("utils.training.in_notebook", lambda: False)
    model = make_model(small)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(KeyboardInterrupt) as caught:
        lr_find(model, loader(small), "sgd", loss_fn=InterruptingLoss(6), num_steps=50, device="cpu")
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert len(caught.value.result.lrs) == 5  # what was recorded travels with the exception


def test_numpy_integers_are_fine_step_counts(small):
    result = lr_find(make_model(small), loader(small), "sgd", num_steps=np.int64(12), device="cpu")
    assert len(result.lrs) <= 12


@pytest.mark.parametrize("kwargs, match", [
    ({"start_lr": 1.0, "end_lr": 0.1}, "end_lr"),
    ({"start_lr": 0.0}, "start_lr"),
    ({"num_steps": 1}, "num_steps"),
    ({"smoothing": 1.0}, "smoothing"),
    ({"diverge_factor": 1.0}, "diverge_factor"),
])
def test_bad_arguments_raise_value_errors(small, kwargs, match):
    with pytest.raises(ValueError, match=match):
        lr_find(make_model(small), loader(small), "sgd", device="cpu", **kwargs)


def test_unknown_optimizer_name_and_empty_loader(small):
    with pytest.raises(ValueError, match="optimizer"):
        lr_find(make_model(small), loader(small), "sgdd", device="cpu")
    with pytest.raises(ValueError, match="no batches"):
        lr_find(make_model(small), [], "sgd", device="cpu")
