"""The bad-input and fault cases of shared/reviews/reliability.md (sections 1 and 6) for ``fit``/``evaluate``.

Each test names the review's row id; before the fix each case crashed with an internal message, returned a
misleading History, or lost the run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import InterruptingLoss
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import utils
from utils import MLP, TensorLoader, fit
from utils.seeding import seed_everything
from utils.training import check_optimizer_matches, evaluate, train_one_epoch

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def small(digits):
    """A 256-sample training loader, the validation loader and a fresh small model (seed 0)."""
    seed_everything(0)
    train = TensorDataset(*(t[:256] for t in digits.train.tensors))
    model = MLP(digits.input_shape, digits.num_classes, hidden=32)
    return model, TensorLoader(train, 64, shuffle=True), TensorLoader(digits.val, 100)


def _fit(small, **kwargs):
    model, train, val = small
    kwargs.setdefault("optimizer", "sgd")
    if isinstance(kwargs["optimizer"], str):
        kwargs.setdefault("lr", 0.1)
    return fit(model, train, val, **kwargs)


def test_1_20_optimizer_built_on_another_model_is_refused(small, digits):
    model, train, val = small
    other = MLP(digits.input_shape, digits.num_classes, hidden=32)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="another model's parameters"):
        fit(model, train, val, optimizer=torch.optim.SGD(other.parameters(), lr=0.1))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_1_21_check_optimizer_matches_for_lr_find(digits):
    model, other = MLP(digits.input_shape, 10, hidden=8), MLP(digits.input_shape, 10, hidden=8)
    check_optimizer_matches(model, torch.optim.SGD(model.parameters(), lr=0.1))
    check_optimizer_matches(model, torch.optim.SGD(model.layers[-1].parameters(), lr=0.1))  # part of it: fine
    with pytest.raises(ValueError, match="another model"):
        check_optimizer_matches(model, torch.optim.SGD(other.parameters(), lr=0.1))


def test_1_26_summed_loss_is_refused(small):
    with pytest.raises(ValueError, match="reduction"):
        _fit(small, loss_fn=nn.CrossEntropyLoss(reduction="sum"))
    with pytest.raises(ValueError, match="reduction"):
        _fit(small, loss_fn=nn.CrossEntropyLoss(reduction="none"))


@pytest.mark.parametrize("loader", ["tensor", "list", "dataloader"])
def test_1_31_empty_training_loader_is_refused(small, digits, loader):
    model, _, val = small
    empty = TensorDataset(torch.empty(0, *digits.input_shape), torch.empty(0, dtype=torch.long))
    train = {"tensor": TensorLoader(empty, 8), "list": [], "dataloader": DataLoader(empty, batch_size=8)}[loader]
    with pytest.raises(ValueError, match="train_loader is empty"):
        fit(model, train, val, optimizer="sgd", lr=0.1, epochs=3)


def test_1_32_empty_validation_loader_is_refused(small, digits):
    model, train, _ = small
    empty = TensorDataset(torch.empty(0, *digits.input_shape), torch.empty(0, dtype=torch.long))
    with pytest.raises(ValueError, match="val_loader is empty"):
        fit(model, train, TensorLoader(empty, 8), optimizer="sgd", lr=0.1)


def test_1_33_evaluate_and_train_one_epoch_on_nothing_raise(small):
    model = small[0]
    loss_fn, cpu = nn.CrossEntropyLoss(), torch.device("cpu")
    with pytest.raises(ValueError, match="loader gave no batches"):
        evaluate(model, [], loss_fn, cpu)
    with pytest.raises(ValueError, match="loader gave no batches"):
        train_one_epoch(model, iter([]), loss_fn, torch.optim.SGD(model.parameters(), lr=0.1), cpu)


def test_1_28_loss_fn_given_as_a_string(small):
    with pytest.raises(ValueError, match="loss_fn"):
        _fit(small, loss_fn="cross_entropy")


@pytest.mark.parametrize("log", [42, [print, 42]])
def test_1_29_log_that_is_not_a_hook(small, log):
    with pytest.raises(ValueError, match="log"):
        _fit(small, log=log)


@pytest.mark.parametrize("seed", [2**64, 2**70])
def test_1_38_seed_too_large_for_torch(seed):
    with pytest.raises(ValueError, match=r"seed must be an integer from 0 to 2\*\*64 - 1"):
        seed_everything(seed)
    assert seed_everything(2**64 - 1) == 2**64 - 1


def test_1_38_numpy_integer_seed_is_fine():
    import numpy as np

    assert seed_everything(np.int64(3)) == 3


# ----------------------------------------------------------------------------------------------- checkpoints in fit
def test_1_39_checkpoint_path_is_checked_before_training(small, tmp_path):
    steps = []
    with pytest.raises(ValueError, match="checkpoint"):
        _fit(small, checkpoint=tmp_path, log=lambda *event: steps.append(event))
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="checkpoint"):
        _fit(small, checkpoint=blocker / "best.pt", log=lambda *event: steps.append(event))
    assert steps == []  # refused before the first step


# ----------------------------------------------------------------------------------------------- interrupting
def _steps_and_evals_per_epoch(small):
    return len(small[1]), len(small[2])


def test_1_41_interrupt_returns_the_history_so_far(small, tmp_path):
    steps, evals = _steps_and_evals_per_epoch(small)
    at = 2 * (steps + evals) + 2  # the second step of epoch 3
    with pytest.raises(KeyboardInterrupt) as caught:  # outside a notebook an interrupt raises, History attached
        _fit(small, epochs=50, loss_fn=InterruptingLoss(at), checkpoint=tmp_path / "best.pt")
    h = caught.value.history
    assert h.interrupted and h.stop_reason == "interrupted" and not h.diverged
    assert [e["epoch"] for e in h.epochs] == [1, 2]  # the finished epochs; the partial one is not recorded
    assert len(h.step_loss) == 2 * steps + 1  # the steps of epoch 3 done before the interrupt are kept
    assert h.restored_best and h.best_epoch in (1, 2)
    assert "interrupted" in h.message
    best = utils.load_checkpoint(tmp_path / "best.pt")  # the model holds the best finished epoch's weights
    assert best["epoch"] == h.best_epoch
    assert all(torch.equal(best["model"][k], v) for k, v in small[0].state_dict().items())


def test_1_41_interrupt_in_a_notebook_returns_the_history(small, monkeypatch):
    monkeypatch.setattr("utils.training.in_notebook", lambda: True)
    steps, evals = _steps_and_evals_per_epoch(small)
    h = _fit(small, epochs=50, loss_fn=InterruptingLoss(steps + evals + 1))
    assert h.interrupted and len(h.epochs) == 1 and h.restored_best


CTRL_C_SCRIPT = """
import sys, utils
s = utils.load_dataset("digits", verbose=False)
loader = utils.TensorLoader(s.train, 64, shuffle=True)
def announce(name, value, step):
    if name == "epoch":
        print("EPOCH", int(value), flush=True)
try:
    utils.fit(utils.MLP(s.input_shape, 10, hidden=16), loader, epochs=100000, optimizer="sgd", lr=0.01, log=announce)
except KeyboardInterrupt as err:
    print("HISTORY", len(err.history.epochs), err.history.interrupted, flush=True)
    raise
print("NOT STOPPED", flush=True)
"""


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_1_41_ctrl_c_still_ends_a_script():
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPTIM_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CTRL_C_SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env, cwd=ROOT)
    try:
        for line in child.stdout:
            if line.startswith("EPOCH 2"):
                child.send_signal(signal.SIGINT)
                break
        out, err = child.communicate(timeout=120)
    finally:
        child.kill()
    assert child.returncode != 0 and "KeyboardInterrupt" in err and "NOT STOPPED" not in out
    epochs = int(out.split("HISTORY ")[1].split()[0])
    assert epochs >= 2 and f"HISTORY {epochs} True" in out


# ----------------------------------------------------------------------------------------------- determinism (6.2)
DETERMINISM_SCRIPT = """
import hashlib, json, utils
utils.seed_everything(7)
s = utils.load_dataset("digits", verbose=False)
loaders = utils.make_loaders(s, batch_size=32, seed=7)
h = utils.fit(utils.MLP(s.input_shape, 10, hidden=32), loaders.train, loaders.val, epochs=2, optimizer="adam",
              lr=1e-3)
record = h.to_dict()
record.pop("elapsed")
for e in record["epochs"]:
    e.pop("time")
print(hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest())
"""


@pytest.mark.slow
def test_6_2_same_seed_same_history_across_processes():
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPTIM_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    hashes = [subprocess.run([sys.executable, "-c", DETERMINISM_SCRIPT], capture_output=True, text=True, env=env,
                             cwd=ROOT, timeout=300, check=True).stdout.strip() for _ in range(2)]
    assert len(hashes[0]) == 64 and hashes[0] == hashes[1]
    assert json.dumps(utils.History().to_dict())  # a History is plain data (what the hash is taken of)


def test_1_42_nan_inputs_are_named_not_the_learning_rate(small, digits):
    model, _, val = small
    x, y = (t[:128].clone() for t in digits.train.tensors)
    x[5] = float("nan")
    h = fit(model, TensorLoader(TensorDataset(x, y), 64), val, optimizer="sgd", lr=0.1)
    assert h.diverged and "at the first step" in h.message
    assert "10x smaller" not in h.message
