"""fit's edge: the cases of the reliability review of 2026-12-04 (section A, and F2) that fit's designs answer.

Each test names the behaviour; the comment names the review's case id. The designs: every exception leaving
``fit`` carries the History; one run file per run (best weights + resume state, refusing other settings,
one writer); failed writes name the file; the scheduler must drive fit's optimizer; labels may be one-hot.
"""

from __future__ import annotations

import errno
import fractions
import functools
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.tensorboard import SummaryWriter

import utils
from utils import MLP, TensorLoader, fit

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def data(digits):
    x, y = digits.train.tensors
    return x[:256], y[:256], TensorLoader(TensorDataset(*(t[:100] for t in digits.val.tensors)), 100)


def _model(digits, hidden=32):
    torch.manual_seed(0)
    return MLP(digits.input_shape, digits.num_classes, hidden=hidden)


def _loader(x, y, batch=64):
    return TensorLoader(TensorDataset(x, y), batch, shuffle=True, seed=0)


class Flaky:
    """A loader whose ``fail_on``-th pass raises ``error`` at its 3rd batch."""

    def __init__(self, inner, fail_on, error):
        self.inner, self.fail_on, self.error, self.passes = inner, fail_on, error, 0

    def __len__(self):
        return len(self.inner)

    def __iter__(self):
        self.passes += 1
        for i, batch in enumerate(self.inner):
            if self.passes == self.fail_on and i == 2:
                raise self.error
            yield batch


# ----------------------------------------------------------------------------------------------- one rule at the edge
def test_a_loader_error_leaves_fit_with_the_history_and_the_best_weights(digits, data):  # A7
    x, y, val = data
    model = _model(digits)
    with pytest.raises(OSError) as caught:
        fit(model, Flaky(_loader(x, y), 3, OSError(5, "Input/output error")), val, epochs=5, optimizer="sgd",
            lr=0.1)
    history = caught.value.history
    assert len(history.epochs) == 2 and history.restored_best
    best = utils.evaluate(model, val, nn.CrossEntropyLoss(), torch.device("cpu")).loss
    assert best == pytest.approx(history.best_value, rel=1e-5)  # the model holds the best epoch, not mid-epoch 3


def test_a_log_hook_error_leaves_fit_with_the_history(digits, data):  # A10
    x, y, val = data

    def hook(name, value, step):
        if name == "epoch" and value == 3:
            raise ValueError("logger: disk full")

    with pytest.raises(ValueError, match="disk full") as caught:
        fit(_model(digits), _loader(x, y), val, epochs=5, optimizer="sgd", lr=0.1, log=hook)
    assert len(caught.value.history.epochs) == 3 and caught.value.history.restored_best


def test_a_used_up_iterator_leaves_with_the_first_epoch(digits, data):  # A17
    x, y, val = data
    with pytest.raises(ValueError, match="used up") as caught:
        fit(_model(digits), iter(_loader(x, y)), val, epochs=3, optimizer="sgd", lr=0.1)
    assert len(caught.value.history.epochs) == 1


def test_an_error_in_a_batch_says_after_which_step(digits, data):  # A9: BatchNorm and a 1-sample last batch
    x, y, _ = data
    bn = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))
    with pytest.raises(ValueError) as caught:
        fit(bn, TensorLoader(TensorDataset(x[:257 - 2], y[:255]), 127), epochs=1, optimizer="sgd", lr=0.1)
    assert "after optimizer step 2" in "".join(caught.value.__notes__)  # the third batch holds 1 sample
    assert caught.value.history.step_loss and caught.value.history.epochs == []


def test_an_interrupt_while_the_optimizer_is_built_returns_the_history(digits, data, monkeypatch):  # A23
    x, y, val = data

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("utils.training.make_optimizer", interrupted)
    monkeypatch.setattr("utils.training.in_notebook", lambda: True)
    history = fit(_model(digits), _loader(x, y), val, optimizer="sgd", lr=0.1)
    assert history.interrupted and history.epochs == []


@pytest.mark.slow
def test_setup_imports_torchs_lazy_modules_before_any_fit():  # A23
    code = "import sys, utils; utils.setup(verbose=False); print('torch._dynamo' in sys.modules)"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPTIM_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=300, check=True).stdout
    assert out.strip().endswith("True")


# ----------------------------------------------------------------------------------------------- arguments
def test_a_scheduler_of_another_optimizer_is_refused(digits, data):  # A16
    x, y, val = data
    model, other = _model(digits), _model(digits)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(torch.optim.SGD(other.parameters(), lr=0.1), step_size=1, gamma=0.1)
    with pytest.raises(ValueError, match="scheduler"):
        fit(model, _loader(x, y), val, epochs=3, optimizer=opt, scheduler=sched)


def test_a_summed_loss_as_a_partial_is_refused(digits, data):  # A19
    x, y, val = data
    with pytest.raises(ValueError, match="loss_fn"):
        fit(_model(digits), _loader(x, y), val, optimizer="sgd", lr=0.01,
            loss_fn=functools.partial(F.cross_entropy, reduction="sum"))


@pytest.mark.parametrize("lr", [fractions.Fraction(1, 10), np.float32(0.1)])
def test_number_types_of_lr_train_and_the_history_is_json(digits, data, lr):  # A15, A33
    x, y, val = data
    history = fit(_model(digits), _loader(x, y), val, epochs=2, optimizer="sgd", lr=lr)
    assert len(history.epochs) == 2 and json.dumps(history.to_dict())


@pytest.mark.parametrize("batch", [64, 10])
def test_one_hot_labels_give_true_accuracies(digits, data, batch):  # A4 (crash), A5 (accuracies above 100 %)
    x, y, _ = data
    x, y = x[:250], y[:250]
    model = _model(digits)
    history = fit(model, _loader(x, F.one_hot(y, 10).float(), batch), epochs=2, optimizer="sgd", lr=0.1)
    assert all(0 <= a <= 1 for a in history.train_acc)
    plain = utils.evaluate(model, TensorLoader(TensorDataset(x, y), 250), nn.CrossEntropyLoss(), torch.device("cpu"))
    hot = utils.evaluate(model, TensorLoader(TensorDataset(x, F.one_hot(y, 10).float()), 250), nn.CrossEntropyLoss(),
                         torch.device("cpu"))
    assert hot.accuracy == plain.accuracy


def test_batches_with_extra_entries_train(digits, data):  # A8
    x, y, _ = data
    loader = DataLoader(TensorDataset(x, y, torch.arange(len(y))), 64)
    assert len(fit(_model(digits), loader, epochs=1, optimizer="sgd", lr=0.1).epochs) == 1


# ----------------------------------------------------------------------------------------------- one run, one file
def test_the_best_epoch_is_what_load_checkpoint_reads_from_a_run_file(digits, data, tmp_path):  # A18
    x, y, val = data
    model, path = _model(digits), tmp_path / "run.pt"
    history = fit(model, _loader(x, y), val, epochs=8, optimizer="sgd", lr=3.0, checkpoint=path,
                  restore_best=False)
    assert history.best_epoch < 8  # the case: the best epoch is not the last
    saved = utils.load_checkpoint(path)
    assert saved["epoch"] == history.best_epoch
    final = {k: v.clone() for k, v in model.state_dict().items()}
    assert not all(torch.equal(saved["model"][k], v) for k, v in final.items())  # not the last epoch's weights


def _run(digits, x, y, val, path, epochs, lr=0.1, n=256, batch=64):
    model = _model(digits)
    opt = utils.make_optimizer("momentum", model.parameters(), lr)
    return fit(model, _loader(x[:n], y[:n], batch), val, epochs=epochs, optimizer=opt, checkpoint=path)


def test_resuming_with_another_learning_rate_is_refused_with_the_difference(digits, data, tmp_path):  # A25
    x, y, val = data
    path = tmp_path / "run.pt"
    _run(digits, x, y, val, path, 2, lr=0.1)
    with pytest.raises(utils.CheckpointError, match=str(path)) as caught:
        _run(digits, x, y, val, path, 4, lr=0.01)
    assert "lr" in str(caught.value) and "0.1" in str(caught.value) and "0.01" in str(caught.value)
    assert len(_run(digits, x, y, val, path, 4, lr=0.1).epochs) == 4  # the same settings continue


def test_resuming_on_other_data_or_batch_size_is_refused(digits, data, tmp_path):  # A40
    x, y, val = data
    path = tmp_path / "run.pt"
    _run(digits, x, y, val, path, 2, n=128, batch=64)
    with pytest.raises(utils.CheckpointError) as caught:
        _run(digits, x, y, val, path, 4, n=256, batch=32)
    assert "batch_size" in str(caught.value) and "train_samples" in str(caught.value)


def test_a_run_file_of_an_older_layout_is_a_checkpoint_error(digits, data, tmp_path):  # A28
    x, y, val = data
    path = tmp_path / "run.pt"
    _run(digits, x, y, val, path, 1)
    state = torch.load(path, weights_only=True)
    del state["run"]["history"]
    torch.save(state, path)
    with pytest.raises(utils.CheckpointError, match=str(path)):
        _run(digits, x, y, val, path, 2)


def test_a_run_file_rewritten_by_another_process_is_not_overwritten(digits, data, tmp_path):  # A38
    x, y, val = data
    path = tmp_path / "run.pt"

    def other_writer(name, value, step):  # what a second process on the same file does after its epoch
        if name == "epoch" and value == 2:
            state = torch.load(path, weights_only=True)
            state["run"]["epoch"] = 9
            torch.save(state, path)

    model = _model(digits)
    with pytest.raises(OSError) as caught:
        fit(model, _loader(x, y), val, epochs=4, optimizer="sgd", lr=0.1, checkpoint=path, log=other_writer)
    assert caught.value.errno == errno.EBUSY and caught.value.filename == str(path)
    assert torch.load(path, weights_only=True)["run"]["epoch"] == 9  # the other writer's state was kept
    assert len(caught.value.history.epochs) == 2


@pytest.mark.parametrize("fail_at", [1, 3])
def test_a_full_disk_names_the_file_keeps_the_history_and_a_rerun_continues(digits, data, tmp_path, monkeypatch,
                                                                            fail_at):  # A34, A35, A36
    x, y, val = data
    path = tmp_path / "run.pt"
    real_save, calls = torch.save, []

    def full_disk(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) >= fail_at:
            raise OSError(errno.EFBIG, "File too large")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr("utils.checkpoints.torch.save", full_disk)
    with pytest.raises(OSError) as caught:
        _run(digits, x, y, val, path, 4)
    assert caught.value.filename == str(path) and str(path) in str(caught.value)
    assert len(caught.value.history.epochs) == fail_at and caught.value.history.restored_best
    monkeypatch.setattr("utils.checkpoints.torch.save", real_save)
    history = _run(digits, x, y, val, path, 4)  # the last good file continues (A36), or a fresh start (A35)
    assert [e["epoch"] for e in history.epochs] == [1, 2, 3, 4]


def test_a_resumed_run_logged_into_its_folder_shows_every_epoch_in_tensorboard(digits, data, tmp_path):  # A31
    x, y, val = data
    for epochs in (2, 4):  # stopped after 2 epochs, then continued from the run file: a second event file
        with SummaryWriter(log_dir=str(tmp_path / "log")) as writer:
            model = _model(digits)
            fit(model, _loader(x, y), None, epochs=epochs, optimizer=utils.make_optimizer("sgd", model.parameters(), 0.1),
                checkpoint=tmp_path / "run.pt", log=writer.add_scalar)
    accumulator = EventAccumulator(str(tmp_path / "log"), size_guidance={SCALARS: 0})  # reads both files, in order
    accumulator.Reload()
    assert [(e.step, e.value) for e in accumulator.Scalars("epoch")] == [(4, 1.0), (8, 2.0), (12, 3.0), (16, 4.0)]


# ----------------------------------------------------------------------------------------------- ddp_train.py
def test_ddp_train_refuses_an_unwritable_out_before_training(tmp_path):  # F2
    spec = importlib.util.spec_from_file_location("ddp_train", ROOT / "scripts" / "ddp_train.py")
    ddp_train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ddp_train)
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="--out"):
        ddp_train.main(["--out", str(blocker / "out"), "--epochs", "20", "--dataset", "digits"])
