"""utils.plotting: the live plot updates one display slot in place and is harmless headless; runs are told apart
by colour-blind-safe colours and line styles; training numbers are drawn where they were measured."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from matplotlib.lines import Line2D

from utils import MLP, LivePlot, fit, make_loaders, plot_history, plot_runs, plotting, smooth
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


def _train(digits, log, epochs=2, batch_size=32):
    seed_everything(0)
    model = MLP(digits.input_shape, digits.num_classes, hidden=32)
    loaders = make_loaders(digits, batch_size=batch_size)
    return fit(model, loaders.train, loaders.val, epochs=epochs, optimizer="sgd", lr=0.1, log=log)


@pytest.mark.slow  # renders figures
def test_live_plot_uses_one_display_id_and_updates_in_place(digits, fake_display):
    calls, handles = fake_display
    with LivePlot(display=True, min_interval=0.0) as plot:  # every step redraws (a PNG each): a few steps
        history = _train(digits, plot.log, epochs=1, batch_size=256)
    assert len(calls) == 1 and calls[0][1] is True  # display(..., display_id=True) exactly once, then in place
    assert len(handles) == 1 and len(handles[0].updates) >= 2
    assert plot.losses == history.step_loss and plot.val_losses == history.val_loss
    png = handles[0].updates[-1].data
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_live_plot_is_throttled(digits, fake_display):
    calls, handles = fake_display
    with LivePlot(display=True, min_interval=3600) as plot:
        history = _train(digits, plot.log)
    # inside the hour only the first point (display), each epoch's end and the final redraw (updates)
    assert len(calls) == 1 and len(handles[0].updates) == len(history.epochs) + 1


def test_live_plot_headless_collects_without_displaying(digits, monkeypatch):
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: pytest.fail("must not display"))
    with LivePlot() as plot:  # pytest is not a Jupyter kernel
        _train(digits, plot.log, epochs=1)
    assert plot.losses and plot.figure.axes[0].lines


@pytest.mark.slow  # renders figures
def test_live_plot_into_a_widget(digits):
    class Target:
        value = b""

    target = Target()
    plot = LivePlot(target=target, min_interval=0.0)
    _train(digits, plot.log, epochs=1, batch_size=256)  # every step redraws: a few steps
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
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["lr=0.1", "now", plotting.TRAIN_STEPS_LABEL, plotting.TRAIN_EPOCH_LABEL, plotting.VAL_LABEL]
    assert fig.axes[0].get_yscale() == "log"


def test_a_labelled_live_plot_has_one_legend():
    # notebook 06's first live plot (a label, no background runs) drew a runs legend over the marks legend
    from matplotlib.legend import Legend

    plot = LivePlot(label="adamw_onecycle", display=False)
    for step, loss in enumerate((2.0, 1.5, 1.2), 1):
        plot.log("train/batch_loss", loss, step)
    plot.log("train/loss", 1.5, 3)
    plot.log("val/loss", 1.3, 3)
    ax = plot.render().axes[0]
    legends = [artist for artist in ax.get_children() if isinstance(artist, Legend)]
    assert len(legends) == 1 and "adamw_onecycle" in [t.get_text() for t in legends[0].get_texts()]


def test_the_legend_lists_only_the_marks_that_are_drawn():
    # notebook 00's loop logs step losses and the validation loss, no epoch means: no square in the legend
    plot = LivePlot(display=False)
    for step, loss in enumerate((2.0, 1.5, 1.2), 1):
        plot.log("train/batch_loss", loss, step)
    plot.log("val/loss", 1.3, 3)
    texts = [t.get_text() for t in plot.render().axes[0].get_legend().get_texts()]
    assert plotting.TRAIN_EPOCH_LABEL not in texts and plotting.VAL_LABEL in texts
    plot.log("train/loss", 1.5, 3)
    texts = [t.get_text() for t in plot.render().axes[0].get_legend().get_texts()]
    assert plotting.TRAIN_EPOCH_LABEL in texts


def test_log_epoch_feeds_a_hand_written_loop_like_fit_does():
    by_hand, by_events = LivePlot(display=False), LivePlot(display=False)
    for losses, val in (([2.0, 1.8], 1.9), ([1.5, 1.2], 1.4)):
        by_hand.log_epoch(losses, val)
        for loss in losses:
            by_events.log("train/batch_loss", loss, len(by_events.steps) + 1)
        by_events.log("val/loss", val, len(by_events.steps))
    assert by_hand.steps == [1, 2, 3, 4] == by_events.steps and by_hand.losses == by_events.losses
    assert by_hand.val_steps == [2, 4] == by_events.val_steps and by_hand.val_losses == [1.9, 1.4]


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
    diverged = fit(MLP(digits.input_shape, 10, hidden=8), make_loaders(digits).train, optimizer="sgd", lr=1e5)
    plot_history(diverged)  # non-finite losses are drawn, not raised


def _lines(ax, **props):
    """The lines of ``ax`` whose properties match ``props`` (e.g. marker="s")."""
    return [line for line in ax.lines if all(getattr(line, f"get_{k}")() == v for k, v in props.items())]


def test_run_style_is_colour_blind_safe_and_tells_runs_apart_without_colour():
    okabe_ito = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"}
    styles = [plotting.run_style(i) for i in range(7)]
    assert {s["color"] for s in styles} <= okabe_ito and len({s["color"] for s in styles}) == 7
    assert len({str(s["linestyle"]) for s in styles}) == 7  # distinct in black and white too
    assert plotting.run_style(0)["color"] != "#F0E442"  # yellow, faint on white, comes last
    assert plotting.run_style(np.int64(8)) == plotting.run_style(8)
    with pytest.raises(ValueError, match="index must be an integer >= 0"):
        plotting.run_style(-1)


def test_plot_runs_draws_each_run_in_its_own_style(digits):
    runs = {f"lr {lr}": _train(digits, None, epochs=1) for lr in ("a", "b", "c")}
    fig = plot_runs(runs)
    ax = fig.axes[0]
    for i, line in enumerate(_lines(ax, marker="o")):  # one validation line per run
        assert line.get_color() == plotting.run_style(i)["color"]
        assert line.get_linestyle() == Line2D([], [], linestyle=plotting.run_style(i)["linestyle"]).get_linestyle()
    assert [t.get_text() for t in fig.legends[1].get_texts()] == list(runs)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [plotting.TRAIN_STEPS_LABEL,
                                                                    plotting.TRAIN_EPOCH_LABEL, plotting.VAL_LABEL]


def test_training_loss_is_drawn_mid_epoch_and_the_smoothed_steps_faintly(digits):
    history = _train(digits, None, epochs=3)
    steps_per_epoch = history.epochs[0]["step"]
    fig = plot_history(history)
    ax_loss, ax_acc = fig.axes
    (epoch_means,) = _lines(ax_loss, marker="s")
    assert np.allclose(epoch_means.get_xdata(), [(k + 0.5) * steps_per_epoch + 0.5 for k in range(3)])
    assert np.allclose(epoch_means.get_ydata(), history.train_loss)
    (validation,) = _lines(ax_loss, marker="o")
    assert list(validation.get_xdata()) == [e["step"] for e in history.epochs]  # the end of each epoch
    step_lines = _lines(ax_loss, marker="None")
    assert len(step_lines) == 2 and all(line.get_alpha() < 0.5 for line in step_lines)  # raw and smoothed: faint
    assert epoch_means.get_alpha() == validation.get_alpha() == 1.0
    legend = [t.get_text() for t in ax_loss.get_legend().get_texts()]
    assert legend == [plotting.TRAIN_STEPS_LABEL, plotting.TRAIN_EPOCH_LABEL, plotting.VAL_LABEL]
    (train_acc,) = _lines(ax_acc, marker="s")
    assert list(train_acc.get_xdata()) == [0.5, 1.5, 2.5] and np.allclose(train_acc.get_ydata(), history.train_acc)


def test_live_plot_places_epoch_means_as_the_static_plot_does(digits):
    plot = LivePlot()
    history = _train(digits, plot.log, epochs=2)
    curves = plotting._history_curves(history)
    assert plot.epoch_steps == curves["epoch_steps"] and plot.epoch_losses == history.train_loss
    plot.render()
    (epoch_means,) = _lines(plot.ax, marker="s")
    assert np.allclose(epoch_means.get_xdata(), curves["epoch_steps"])


def test_live_plot_keeps_a_runs_style_when_it_becomes_background(digits):
    first = _train(digits, None, epochs=1)
    first.label = "first"
    plot = LivePlot(background=[first], label="second")
    plot.log("train/batch_loss", 1.0, 1)
    plot.log("val/loss", 1.0, 1)
    plot.render()
    colors = [line.get_color() for line in _lines(plot.ax, marker="o")]
    assert colors == [plotting.run_style(0)["color"], plotting.run_style(1)["color"]]


def test_the_diagrams_use_the_same_palette():
    spec = importlib.util.spec_from_file_location("make_images", Path(plotting.__file__).parents[1] / "images" / "make_images.py")
    make_images = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_images)
    assert {make_images.TRAIN, make_images.VAL, make_images.TEST, make_images.BACKWARD} <= set(plotting.PALETTE)
