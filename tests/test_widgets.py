"""The hyperparameter explorer, driven the way a learner drives it: set slider values, click buttons.

nbmake does not fail on exceptions raised inside widget callbacks, so these tests are the real check of
notebooks/05_hyperparameters.ipynb's explorer.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

import utils
import utils.widgets as widgets
from utils.experiments import explorer_data, run_experiment, run_label
from utils.widgets import BATCH_SIZES, HyperparameterExplorer


def small_explorer(digits, **kwargs):
    ex = HyperparameterExplorer(digits, device="cpu", per_class=40, val_size=100, hidden=32, **kwargs)
    ex.epochs_slider.value = 2
    return ex


@pytest.fixture
def explorer(digits, monkeypatch):
    """An explorer whose Train button takes clicks one right after the other (as a slow learner clicks)."""
    monkeypatch.setattr(widgets, "QUEUED_CLICK_WINDOW_S", 0.0)
    return small_explorer(digits)


def image_bytes(ex: HyperparameterExplorer) -> bytes:
    return bytes(ex.image.value)


# ----------------------------------------------------------------------------------------------- the controls
def test_controls_match_the_specification(explorer):
    lr = explorer.lr_slider
    assert (lr.base, lr.min, lr.max) == (10, -5, 1)  # 1e-5 ... 10 on a log scale
    assert list(explorer.batch_slider.options) == [8, 16, 32, 64, 128, 256, 512, 1024] == list(BATCH_SIZES)
    for slider in (explorer.lr_slider, explorer.batch_slider, explorer.epochs_slider):
        assert slider.continuous_update is False  # fire on release, not on every pixel of a drag
    assert set(explorer.optimizer_dropdown.options) >= {"sgd", "momentum", "adam"}
    assert image_bytes(explorer).startswith(b"\x89PNG")  # an (empty) plot is there before the first run
    assert explorer.runs == []


def test_bad_initial_settings_raise_value_errors(digits):
    with pytest.raises(ValueError, match="batch_size"):
        HyperparameterExplorer(digits, device="cpu", batch_size=100)
    with pytest.raises(ValueError, match="optimizer"):
        HyperparameterExplorer(digits, device="cpu", optimizer="sgdd")
    with pytest.raises(ValueError, match="lr"):
        HyperparameterExplorer(digits, device="cpu", lr=100.0)
    with pytest.raises(ValueError, match="epochs"):
        HyperparameterExplorer(digits, device="cpu", epochs=50)


# ----------------------------------------------------------------------------------------------- training runs
def test_train_click_adds_a_run_and_changes_the_plot(explorer):
    before = image_bytes(explorer)
    explorer.lr_slider.value = 0.1
    explorer.batch_slider.value = 32
    explorer.train_button.click()
    assert len(explorer.runs) == 1
    first = explorer.runs[0]
    assert first.label == run_label(0.1, 32, 2, "sgd")
    assert len(first.epochs) == 2 and not first.diverged
    after_first = image_bytes(explorer)
    assert after_first != before and after_first.startswith(b"\x89PNG")
    assert "val loss" in explorer.status.value

    explorer.lr_slider.value = 0.01
    explorer.optimizer_dropdown.value = "adam"
    explorer.train_button.click()
    assert len(explorer.runs) == 2
    assert explorer.runs[1].label == run_label(0.01, 32, 2, "adam")
    assert image_bytes(explorer) != after_first
    assert explorer.runs[0] is first  # earlier runs are kept, to be overlaid
    assert explorer.train_button.disabled is False


def test_runs_use_the_slider_values_not_the_defaults(explorer):
    explorer.batch_slider.value = 128
    explorer.epochs_slider.value = 3
    explorer.train_button.click()
    history = explorer.runs[-1]
    steps_per_epoch = math.ceil(len(explorer.data.train) / 128)
    assert [e["step"] for e in history.epochs] == [steps_per_epoch * k for k in (1, 2, 3)]


def test_lr_10_shows_the_divergence_message_not_an_exception(explorer):
    explorer.lr_slider.value = 10.0
    explorer.train_button.click()  # must not raise
    history = explorer.runs[-1]
    assert history.diverged
    assert "diverged at step" in history.message and "lr 10" in history.message
    assert "diverged at step" in explorer.status.value and widgets.ERROR in explorer.status.value
    assert "Traceback" not in explorer.status.value
    assert explorer.train_button.disabled is False


def test_batch_larger_than_the_dataset_is_one_full_batch_step_per_epoch(digits):
    ex = HyperparameterExplorer(digits, device="cpu", per_class=10, val_size=50, hidden=16)
    assert len(ex.data.train) == 100
    ex.batch_slider.value = 1024
    ex.epochs_slider.value = 3
    ex.train_button.click()
    history = ex.runs[-1]
    assert [e["step"] for e in history.epochs] == [1, 2, 3]
    assert len(history.step_loss) == 3 and all(math.isfinite(v) for v in history.step_loss)
    assert "full-batch" in ex.status.value


def test_a_click_while_training_does_not_start_a_second_run(explorer):
    seen_while_training = []

    def click_again(change):  # fires whenever the live plot is redrawn, i.e. during training
        seen_while_training.append(explorer.train_button.disabled or explorer.clear_button.disabled)
        if len(seen_while_training) == 1:  # once: without the guard this would start a nested run
            explorer.train_button.click()
            explorer.clear_button.click()

    explorer.image.observe(click_again, names="value")
    explorer.train_button.click()
    explorer.image.unobserve(click_again, names="value")
    assert len(explorer.runs) == 1
    # the buttons stay enabled while training: a disabled button would drop the keyboard focus to the page
    assert seen_while_training and not any(seen_while_training)
    assert explorer.train_button.disabled is False and not explorer._lock.locked()
    explorer.train_button.click()  # and it works again afterwards
    assert len(explorer.runs) == 2


def test_a_double_click_trains_once(digits, monkeypatch):
    # A real double-click: both clicks reach the kernel before the button greys out; the kernel handles the
    # second one right after the first run returns. It must not start a second run.
    ex = small_explorer(digits)
    ex.train_button.click()
    ex.train_button.click()  # queued behind the first run: handled a few milliseconds after it ended
    assert len(ex.runs) == 1
    assert "ignored" in ex.status.value and "press Train again" in ex.status.value  # said, not silently dropped
    assert "val loss" in ex.status.value  # after the result of the run, which stays readable
    ex.train_button.click()  # a third click: the note is not repeated
    assert ex.status.value.count("ignored") == 1
    monkeypatch.setattr(widgets, "QUEUED_CLICK_WINDOW_S", 0.0)  # a click well after the run: trains
    ex.train_button.click()
    assert len(ex.runs) == 2
    monkeypatch.undo()
    assert ex.train() is not None and len(ex.runs) == 3  # a call from code is never taken for a queued click


def test_the_x_axis_shows_steps_epochs_samples_or_seconds(explorer):
    explorer.batch_slider.value = 32
    explorer.train_button.click()
    run = explorer.runs[0]
    n_train, steps = len(explorer.data.train), len(run.step_loss)
    expected_end = {"steps": steps, "epochs": 2.0, "samples": 2 * n_train}
    pictures = set()
    for choice in ("epochs", "samples", "seconds", "steps"):
        explorer.x_axis_dropdown.value = choice  # the dropdown's handler redraws
        ax = explorer.plot.ax
        end = max(max(line.get_xdata()) for line in ax.get_lines() if len(line.get_xdata()))
        if choice == "seconds":
            assert 0 < end <= run.elapsed + 1e-9
        else:
            assert end == pytest.approx(expected_end[choice])
        assert ax.get_xlabel() == widgets.X_AXES[choice]
        pictures.add(bytes(explorer.image.value))
    assert len(pictures) == 4
    ticks = [t for t in explorer.plot.ax.get_xticks() if 0 <= t <= steps]
    assert ticks and all(float(t).is_integer() for t in ticks)  # no tick at step 2.5


def test_the_live_run_follows_the_x_axis_choice(explorer):
    axis = widgets.RunAxis(batch_size=50, n_train=100)  # 2 steps an epoch
    plot = explorer._new_plot("current", axis)
    for step in (1, 2, 3, 4):
        plot.log("train/batch_loss", 2.0, step)
    explorer.x_axis_dropdown.value = "epochs"
    plot.render()
    assert max(plot.ax.get_lines()[0].get_xdata()) == 2.0


def test_no_frame_with_a_single_point(explorer):
    plot = explorer._new_plot("current", widgets.RunAxis(batch_size=10, n_train=100))
    plot.min_interval = 0.0
    before = bytes(explorer.image.value)
    plot.log("train/batch_loss", 2.0, 1)
    assert bytes(explorer.image.value) == before  # one point alone is not drawn
    plot.log("train/batch_loss", 1.9, 2)
    assert bytes(explorer.image.value) != before


def test_the_status_line_keeps_two_lines_and_grows_never_clips(explorer):
    assert explorer.status.layout.min_height == "3.6em" and not explorer.status.layout.height


def test_status_colours_follow_the_theme_and_a_restart_note_waits_hidden(explorer):
    # the dark theme made a hard-coded black status unreadable: colours are JupyterLab's CSS variables
    explorer.train_button.click()
    status = explorer.status.value
    assert "color:black" not in status.replace(" ", "") and "var(--jp-content-font-color1" in status
    assert "optim-restart-note" in status and "Run All Cells" in status  # shown by CSS once the kernel is gone
    assert "jupyter-widgets-disconnected .optim-restart-note" in status
    assert "optim-widget" in explorer.ui._dom_classes


def test_in_a_dark_theme_the_plot_is_shown_inverted(explorer):
    # the dark theme showed the plot as a white slab: the widget's CSS inverts its pictures there (light on dark grey)
    status = explorer.status.value
    assert 'body[data-jp-theme-light="false"] .optim-widget img.widget-image' in status
    assert "filter: invert(0.88) hue-rotate(180deg)" in status
    assert "optim-widget" in explorer.ui._dom_classes  # the class the rule is keyed on (img.widget-image: ipywidgets')


def test_the_plot_is_shown_at_its_own_size(explorer):
    # at 1024 px the picture was scaled to 77 % (5 px legend): it keeps its size and the box scrolls sideways
    assert explorer.image.layout.max_width == "none" and explorer.image.layout.align_self == "flex-start"
    assert explorer.ui.layout.overflow == "auto"


def test_an_interrupt_stops_the_run_and_keeps_it(explorer, monkeypatch):
    def interrupted(*args, log, **kwargs):
        for step in (1, 2, 3):
            log("train/batch_loss", 2.0 - step / 10, step)
        raise KeyboardInterrupt

    monkeypatch.setattr(widgets, "run_experiment", interrupted)
    explorer.train_button.click()  # must not raise
    assert len(explorer.runs) == 1 and explorer.runs[0].step_loss == pytest.approx([1.9, 1.8, 1.7])
    assert "stopped" in explorer.status.value
    assert explorer.train_button.disabled is False and not explorer._lock.locked()
    explorer.x_axis_dropdown.value = "samples"  # the kept run still draws
    assert "Could not" not in explorer.status.value


def test_stop_pressed_inside_fit_keeps_the_interrupted_history(explorer, monkeypatch):
    real = widgets.run_experiment

    def stop_at_step_25(*args, log, **kwargs):
        def hook(name, value, step):
            log(name, value, step)
            if name == "train/batch_loss" and step == 25:
                raise KeyboardInterrupt  # where the kernel's interrupt lands: inside fit's loop
        return real(*args, log=hook, **kwargs)

    monkeypatch.setattr(widgets, "run_experiment", stop_at_step_25)
    explorer.epochs_slider.value = 5
    explorer.train_button.click()  # must not raise
    history = explorer.runs[-1]
    assert history.interrupted and 25 <= len(history.step_loss) < 5 * 13
    assert "stopped" in explorer.status.value and "Could not" not in explorer.status.value


def test_errors_in_clear_and_x_axis_handlers_are_shown(explorer, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no picture")

    monkeypatch.setattr(widgets, "ExplorerPlot", broken)
    explorer.clear_button.click()
    assert "Could not clear" in explorer.status.value and "no picture" in explorer.status.value
    explorer.x_axis_dropdown.value = "epochs"
    assert "Could not redraw" in explorer.status.value


def test_clear_removes_every_run_and_redraws(explorer):
    explorer.train_button.click()
    explorer.train_button.click()
    with_runs = image_bytes(explorer)
    assert len(explorer.runs) == 2
    explorer.clear_button.click()
    assert explorer.runs == []
    assert image_bytes(explorer) != with_runs
    assert "cleared" in explorer.status.value


def test_an_error_during_training_is_shown_not_raised(explorer, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("something went wrong")

    monkeypatch.setattr(widgets, "run_experiment", broken)
    explorer.train_button.click()  # must not raise
    assert "ValueError" in explorer.status.value and "something went wrong" in explorer.status.value
    assert explorer.runs == []
    assert explorer.train_button.disabled is False and not explorer._lock.locked()


def test_diverged_runs_do_not_flatten_the_plot(explorer):
    explorer.lr_slider.value = 10.0
    explorer.train_button.click()
    plot = explorer._new_plot()
    plot.render()
    bottom, top = plot.ax.get_ylim()
    assert top == pytest.approx(2 * math.log(10))
    assert max(explorer.runs[0].step_loss) > top  # the diverged run really went above the cut


def test_the_explorer_displays_as_a_widget(explorer):
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_the_explorer_cell_run_alone_says_which_cells_to_run_first():
    # after a kernel restart, running only the explorer's cell gave "NameError: name 'utils' is not defined"
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "05_hyperparameters.ipynb"
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    source = next("".join(c["source"]) for c in cells if "HyperparameterExplorer(" in "".join(c["source"]))
    with pytest.raises(RuntimeError, match="Run All Above Selected Cell"):
        exec(source, {})  # a fresh kernel's namespace: none of the names the cells above define


def test_old_import_paths_still_work():
    assert utils.run_experiment is widgets.run_experiment is run_experiment
    assert utils.explorer_data is widgets.explorer_data and utils.HyperparameterExplorer is HyperparameterExplorer


# ----------------------------------------------------------------------------------------------- plain functions
def test_run_experiment_is_reproducible_and_logs(digits):
    data = explorer_data(digits, per_class=30, val_size=60, device="cpu")
    logged = []
    a = run_experiment(data, lr=0.05, batch_size=32, epochs=2, optimizer="momentum", seed=3, hidden=16, device="cpu",
                       log=lambda name, value, step: logged.append(name))
    b = run_experiment(data, lr=0.05, batch_size=32, epochs=2, optimizer="momentum", seed=3, hidden=16, device="cpu")
    c = run_experiment(data, lr=0.05, batch_size=32, epochs=2, optimizer="momentum", seed=4, hidden=16, device="cpu")
    assert a.step_loss == b.step_loss
    assert a.step_loss != c.step_loss
    assert logged.count("val/loss") == 2 and "train/batch_loss" in logged
    assert a.label == "momentum lr=0.05 bs=32 ep=2"


def test_run_experiment_rejects_bad_arguments(digits):
    data = explorer_data(digits, per_class=5, val_size=10, device="cpu")
    with pytest.raises(ValueError, match="batch_size"):
        run_experiment(data, batch_size=0, device="cpu")
    with pytest.raises(ValueError, match="lr"):
        run_experiment(data, lr=-1.0, device="cpu")
    with pytest.raises(ValueError, match="optimizer"):
        run_experiment(data, optimizer="sgdd", device="cpu")
    with pytest.raises(ValueError, match="epochs"):
        run_experiment(data, epochs=0, device="cpu")


def test_explorer_data_is_balanced_and_capped(digits):
    data = explorer_data(digits, per_class=1000, val_size=10_000, device="cpu")
    counts = torch.bincount(data.train.tensors[1])
    assert len(set(counts.tolist())) == 1  # every class as often as the rarest one
    assert len(data.val) == len(digits.val)
    assert data.test is digits.test and data.classes == digits.classes
    small = explorer_data(digits, per_class=7, val_size=20, device="cpu")
    assert len(small.train) == 70 and len(small.val) == 20
    with pytest.raises(ValueError, match="per_class"):
        explorer_data(digits, per_class=0)
    with pytest.raises(ValueError, match="val_size"):
        explorer_data(digits, val_size=1.5)


def test_runs_train_on_the_requested_number_of_cpu_threads_and_restore_it(digits):
    data = explorer_data(digits, per_class=5, val_size=10, device="cpu")
    before = torch.get_num_threads()
    during = []
    run_experiment(data, epochs=1, hidden=8, device="cpu", threads=1,
                   log=lambda name, value, step: during.append(torch.get_num_threads()))
    assert during and set(during) == {1}
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"):
        run_experiment(data, epochs=1, device="cpu", threads=0)


def test_every_run_is_overlaid_with_one_legend_entry_each(explorer):
    explorer.train_button.click()
    explorer.lr_slider.value = 0.01
    explorer.train_button.click()
    plot = explorer._new_plot("current", widgets.RunAxis(batch_size=64, n_train=400))
    plot.log("train/batch_loss", 2.0, 1)
    plot.log("train/batch_loss", 1.9, 2)
    plot.render()
    legend = [t.get_text() for t in plot.ax.get_legend().get_texts()]
    assert legend == [run.label for run in explorer.runs] + ["current"]


def test_the_runs_on_the_plot_are_listed_in_words(digits):
    # Under the plot, the runs in words: a learner who cannot tell the colours apart reads which line is which.
    ex = small_explorer(digits)
    assert "none yet" in ex.runs_list.value
    ex.train()
    ex.lr_slider.value = 10.0
    ex.train()
    text = ex.runs_list.value
    assert f"1. {ex.runs[0].label};" in text and f"2. {ex.runs[1].label} (diverged)" in text
    ex.clear_button.click()
    assert "none yet" in ex.runs_list.value
