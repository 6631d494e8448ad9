"""utils.plotting: the live plot updates one display slot in place and is harmless headless."""

from __future__ import annotations

import numpy as np
import pytest

from utils import MLP, LivePlot, fit, make_loaders, plot_history, plot_runs, smooth
from utils.seeding import seed_everything


class FakeHandle:
    def __init__(self):
        self.updates = []

    def update(self, obj):
        self.updates.append(obj)


@pytest.fixture
def fake_display(monkeypatch):
    calls = []

    def display(obj, display_id=False):
        calls.append((obj, display_id))
        handle = FakeHandle()
        calls_handles.append(handle)
        return handle

    calls_handles: list[FakeHandle] = []
    monkeypatch.setattr("IPython.display.display", display)
    return calls, calls_handles


def _train(digits, log, epochs=2):
    seed_everything(0)
    model = MLP(digits.input_shape, digits.num_classes, hidden=32)
    loaders = make_loaders(digits, batch_size=32)
    return fit(model, loaders.train, loaders.val, epochs=epochs, optimizer="sgd", lr=0.1, log=log, progress=False,
               log_every=5)


def test_live_plot_uses_one_display_id_and_updates_in_place(digits, fake_display):
    calls, handles = fake_display
    with LivePlot(display=True, min_interval=0.0) as plot:
        history = _train(digits, plot.log)
    assert len(calls) == 1 and calls[0][1] is True  # display(..., display_id=True) exactly once
    assert len(handles[0].updates) == plot.draws - 1 >= 2  # every later draw is an in-place update
    assert plot.losses == history.step_loss and plot.val_losses == history.val_loss
    png = handles[0].updates[-1].data
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_live_plot_is_throttled(digits, fake_display):
    with LivePlot(display=True, min_interval=3600) as plot:
        history = _train(digits, plot.log)
    # inside the hour only the first point, each epoch's end and the final redraw
    assert plot.draws == 1 + len(history.epochs) + 1


def test_live_plot_headless_collects_without_displaying(digits, monkeypatch):
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: pytest.fail("must not display"))
    with LivePlot() as plot:  # pytest is not a Jupyter kernel
        _train(digits, plot.log, epochs=1)
    assert plot.losses and plot.figure.axes[0].lines


def test_live_plot_into_a_widget(digits):
    class Target:
        value = b""

    target = Target()
    plot = LivePlot(target=target, min_interval=0.0)
    _train(digits, plot.log, epochs=1)
    first = target.value
    plot.log("train/batch_loss", 0.1, 10_000)
    plot.close()
    assert first.startswith(b"\x89PNG") and target.value != first


def test_live_plot_overlays_background_runs_with_labels(digits):
    done = _train(digits, None, epochs=1)
    done.label = "lr=0.1"
    plot = LivePlot(background=[done], label="now", log_scale=True)
    plot.log("train/batch_loss", 1.0, 1)
    plot.log("train/batch_loss", 0.5, 2)
    fig = plot.render()
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "lr=0.1 train" in labels and "now train" in labels
    assert fig.axes[0].get_yscale() == "log"


def test_smooth():
    assert np.allclose(smooth([2.0, 2.0, 2.0]), 2.0)  # bias-corrected: a constant stays constant
    out = smooth([0.0, 10.0], weight=0.5)
    assert out[0] == 0.0 and 0 < out[1] < 10
    assert np.array_equal(smooth([1.0, 3.0], weight=0.0), [1.0, 3.0])
    with pytest.raises(ValueError, match="weight"):
        smooth([1.0], weight=1.0)


def test_static_plots(digits):
    h = _train(digits, None)
    fig = plot_history(h)
    assert len(fig.axes) == 2 and fig.axes[1].lines
    h.label = "a"
    fig = plot_runs([h, h], log_scale=True)
    assert fig.axes[0].get_yscale() == "log"
    diverged = fit(MLP(digits.input_shape, 10, hidden=8), make_loaders(digits).train, optimizer="sgd", lr=1e5,
                   progress=False)
    plot_history(diverged)  # non-finite losses are drawn, not raised
