"""utils.training: fit, History, the building blocks, checkpoints and bad input."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch import nn

from utils import MLP, DivergenceGuard, fit, load_checkpoint, make_loaders, save_checkpoint
from utils.seeding import seed_everything
from utils.training import evaluate, make_optimizer, train_one_epoch


def _run(digits, seed=0, epochs=3, lr=0.1, **kwargs):
    seed_everything(seed)
    model = MLP(digits.input_shape, digits.num_classes, hidden=64)
    loaders = make_loaders(digits, batch_size=32, seed=seed)
    history = fit(model, loaders.train, loaders.val, epochs=epochs, optimizer="sgd", lr=lr, **kwargs)
    return model, loaders, history


def test_loss_falls_and_history_is_complete(digits):
    model, loaders, h = _run(digits, epochs=4)
    steps_per_epoch = len(loaders.train)
    assert len(h.step_loss) == 4 * steps_per_epoch
    assert [e["epoch"] for e in h.epochs] == [1, 2, 3, 4]
    assert [e["step"] for e in h.epochs] == [steps_per_epoch * i for i in (1, 2, 3, 4)]
    assert h.train_loss[-1] < 0.5 * h.train_loss[0]
    assert h.val_loss[-1] < h.val_loss[0] and h.val_acc[-1] > 0.7
    assert all(e["lr"] == 0.1 for e in h.epochs)
    assert 0 < h.epochs[0]["time"] <= h.epochs[-1]["time"] <= h.elapsed
    assert not h.diverged and h.message is None
    assert "val acc" in h.summary()


def test_epoch_metrics_are_sample_averages(digits):
    seed_everything(0)
    model = MLP(digits.input_shape, digits.num_classes, hidden=32)
    loader = make_loaders(digits, batch_size=100).val  # 144 samples: batches of 100 and 44
    result = evaluate(model, loader, nn.CrossEntropyLoss(), torch.device("cpu"))
    x, y = digits.val.tensors
    with torch.no_grad():
        logits = model(x)
    assert math.isclose(result.loss, nn.functional.cross_entropy(logits, y).item(), rel_tol=1e-5)
    assert math.isclose(result.accuracy, (logits.argmax(1) == y).float().mean().item(), rel_tol=1e-6)
    assert result.samples == 144


def test_evaluate_restores_training_mode(digits):
    model = MLP(digits.input_shape, digits.num_classes, hidden=16, dropout=0.5)
    loader = make_loaders(digits, batch_size=64).val
    model.train()
    evaluate(model, loader, nn.CrossEntropyLoss(), torch.device("cpu"))
    assert model.training
    model.eval()
    evaluate(model, loader, nn.CrossEntropyLoss(), torch.device("cpu"))
    assert not model.training


def test_train_one_epoch_matches_a_plain_loop(digits):
    torch.manual_seed(0)
    a = MLP(digits.input_shape, digits.num_classes, hidden=16)
    b = MLP(digits.input_shape, digits.num_classes, hidden=16)
    b.load_state_dict(a.state_dict())
    loader = make_loaders(digits, batch_size=50, seed=1).train
    opt_a, opt_b = torch.optim.SGD(a.parameters(), lr=0.05), torch.optim.SGD(b.parameters(), lr=0.05)
    result = train_one_epoch(a, loader, nn.CrossEntropyLoss(), opt_a, torch.device("cpu"))
    loader = make_loaders(digits, batch_size=50, seed=1).train
    total = 0.0
    for x, y in loader:
        loss = nn.functional.cross_entropy(b(x), y)
        opt_b.zero_grad()
        loss.backward()
        opt_b.step()
        total += loss.item() * len(y)
    assert math.isclose(result.loss, total / len(digits.train), rel_tol=1e-5)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.allclose(pa, pb, atol=1e-6)


def test_same_seed_same_history(digits):
    _, _, h1 = _run(digits, seed=3, epochs=2)
    _, _, h2 = _run(digits, seed=3, epochs=2)
    _, _, h3 = _run(digits, seed=4, epochs=2)
    assert h1.step_loss == h2.step_loss
    assert [(e["train_loss"], e["val_loss"], e["val_acc"]) for e in h1.epochs] == \
           [(e["train_loss"], e["val_loss"], e["val_acc"]) for e in h2.epochs]
    assert h1.step_loss != h3.step_loss


def test_best_weights_are_restored(digits):
    seed_everything(0)
    model = MLP(digits.input_shape, digits.num_classes, hidden=64)
    loaders = make_loaders(digits, batch_size=32)
    # a learning rate that first helps, then (after the step) overshoots: the best epoch is not the last
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0 if e < 3 else 12.0)
    h = fit(model, loaders.train, loaders.val, epochs=5, optimizer=opt, scheduler=sched)
    assert h.best_epoch is not None and h.restored_best
    best = h.epochs[h.best_epoch - 1]["val_loss"]
    assert best == min(h.val_loss) == h.best_value
    assert h.best_epoch < 5 and best < h.val_loss[-1]
    final = evaluate(model, loaders.val, nn.CrossEntropyLoss(), torch.device("cpu"))
    assert math.isclose(final.loss, best, rel_tol=1e-5)


def test_restore_best_can_be_switched_off(digits):
    model, loaders, h = _run(digits, epochs=2, restore_best=False)
    assert not h.restored_best
    final = evaluate(model, loaders.val, nn.CrossEntropyLoss(), torch.device("cpu"))
    assert math.isclose(final.loss, h.val_loss[-1], rel_tol=1e-6)


def test_scheduler_is_stepped_per_epoch_and_lr_recorded(digits):
    seed_everything(0)
    model = MLP(digits.input_shape, digits.num_classes, hidden=16)
    loaders = make_loaders(digits, batch_size=64)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    h = fit(model, loaders.train, loaders.val, epochs=3, optimizer=opt, scheduler=sched)
    assert h.lr == pytest.approx([0.1, 0.05, 0.025])
    assert sched.get_last_lr() == pytest.approx([0.0125])


def test_scheduler_per_step(digits):
    seed_everything(0)
    model = MLP(digits.input_shape, digits.num_classes, hidden=16)
    loaders = make_loaders(digits, batch_size=64)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=2 * len(loaders.train))
    fit(model, loaders.train, loaders.val, epochs=2, optimizer=opt, scheduler=sched, scheduler_interval="step")
    assert sched.last_epoch == 2 * len(loaders.train)


def test_logging_hook_receives_every_step_and_epoch(digits):
    seen = []
    _, loaders, h = _run(digits, epochs=2, log=lambda name, value, step: seen.append((name, value, step)))
    batch = [(v, s) for n, v, s in seen if n == "train/batch_loss"]
    assert [v for v, _ in batch] == h.step_loss
    assert [s for _, s in batch] == list(range(1, len(h.step_loss) + 1))
    names = {n for n, _, _ in seen}
    assert {"train/loss", "train/acc", "val/loss", "val/acc", "lr", "epoch"} <= names
    assert [(v, s) for n, v, s in seen if n == "epoch"] == [(e["epoch"], e["step"]) for e in h.epochs]
    assert [v for n, v, _ in seen if n == "val/acc"] == h.val_acc
    assert [s for n, _, s in seen if n == "val/loss"] == [e["step"] for e in h.epochs]


def test_several_hooks(digits):
    a, b = [], []
    _run(digits, epochs=1, log=[lambda *e: a.append(e), lambda *e: b.append(e)])
    assert a == b and a


def test_divergence_stops_with_a_message_not_an_exception(digits):
    model, loaders, h = _run(digits, epochs=3, lr=1e4)
    assert h.diverged
    assert "diverged at step" in h.message and "lr 10000" in h.message and "10x smaller" in h.message
    assert len(h.step_loss) < 3 * len(loaders.train)
    assert not math.isfinite(h.step_loss[-1])


class ScaledLoss(nn.Module):
    """Cross-entropy multiplied by a scripted factor per call: a loss that jumps on cue."""

    def __init__(self, factors):
        super().__init__()
        self.factors, self.calls = factors, 0

    def forward(self, logits, y):
        factor = self.factors[min(self.calls, len(self.factors) - 1)]
        self.calls += 1
        return nn.functional.cross_entropy(logits, y) * factor


def _fit_scripted(digits, factors, log=None):
    seed_everything(0)
    model = MLP(digits.input_shape, digits.num_classes, hidden=16)
    steps = []
    counted = torch.optim.SGD(model.parameters(), lr=1e-4)
    original = counted.step
    counted.step = lambda *a, **k: (steps.append(1), original(*a, **k))[1]
    h = fit(model, make_loaders(digits, batch_size=64).train, epochs=2, optimizer=counted,
            loss_fn=ScaledLoss(factors), log=log)
    return h, len(steps)


def test_divergence_guard_stops_a_finite_explosion_at_that_step(digits):
    h, steps = _fit_scripted(digits, [1, 1, 1, 8, 8, 8, 8, 8, 8, 8, 8, 1], log=DivergenceGuard(4.0))
    assert h.diverged and len(h.step_loss) == 4 and steps == 4  # no update after the step that blew up
    assert "step 4 (epoch 1)" in h.message and "lr 0.0001" in h.message
    assert h.epochs == []


def test_divergence_guard_tolerates_bumps_and_is_off_by_default(digits):
    assert not _fit_scripted(digits, [1, 1, 3, 1], log=DivergenceGuard(4.0))[0].diverged  # 3x: a bump
    assert not _fit_scripted(digits, [1, 1, 8, 8, 1])[0].diverged  # no guard: only nan/inf stop a run
    with pytest.raises(ValueError, match="factor"):
        DivergenceGuard(1.0)


def test_checkpoint_is_written_atomically_and_loads_weights_only(digits, tmp_path):
    path = tmp_path / "ckpt" / "best.pt"
    model, _, h = _run(digits, epochs=2, checkpoint=path)
    assert path.is_file() and not list(path.parent.glob("*.tmp"))
    fresh = MLP(digits.input_shape, digits.num_classes, hidden=64)
    ckpt = load_checkpoint(path, fresh)
    assert ckpt["epoch"] == h.best_epoch and ckpt["monitor"] == "val_loss"
    for p, q in zip(model.parameters(), fresh.parameters()):
        assert torch.equal(p, q)
    torch.load(path, weights_only=True)  # plain tensors and numbers only


def test_failed_checkpoint_write_leaves_no_partial_file(tmp_path, monkeypatch):
    model = nn.Linear(2, 2)
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, epoch=1)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, epoch=2)
    assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]


def test_missing_checkpoint():
    with pytest.raises(FileNotFoundError, match="checkpoint file not found"):
        load_checkpoint("/nonexistent/x.pt")


def test_explicit_cpu_device(digits):
    _, _, h = _run(digits, epochs=1, device="cpu")
    assert h.device == "cpu"


def _amp_run(digits, monkeypatch, supported):
    """One epoch with amp=True on the CPU, bf16 support forced; returns the History, the dtypes the first
    layer produced and the warnings."""
    monkeypatch.setattr("utils.training.bf16_supported", lambda device: supported)
    seed_everything(0)
    model = MLP(digits.input_shape, digits.num_classes, hidden=64)
    dtypes = set()
    model.layers[1].register_forward_hook(lambda module, inputs, output: dtypes.add(output.dtype))
    loaders = make_loaders(digits, batch_size=32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = fit(model, loaders.train, loaders.val, epochs=4, optimizer="sgd", lr=0.1, device="cpu", amp=True)
    assert all(p.dtype == torch.float32 for p in model.parameters())  # weights and updates stay float32
    return h, dtypes, [str(w.message) for w in caught]


def test_amp_trains_in_bfloat16_where_supported(digits, monkeypatch):
    h, dtypes, caught = _amp_run(digits, monkeypatch, supported=True)
    assert dtypes == {torch.bfloat16} and not any("amp=True" in m for m in caught)
    assert h.train_loss[-1] < h.train_loss[0] and h.val_acc[-1] > 0.7


def test_amp_without_bfloat16_notes_it_and_trains_in_float32(digits, monkeypatch):
    h, dtypes, caught = _amp_run(digits, monkeypatch, supported=False)
    assert dtypes == {torch.float32}
    assert any("amp=True" in m and "float32" in m for m in h.notes) and any("amp=True" in m for m in caught)
    assert h.val_acc[-1] > 0.7


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_path(digits):
    seed_everything(0)
    model = MLP(digits.input_shape, digits.num_classes, hidden=64)
    loaders = make_loaders(digits, batch_size=32, device="cuda")
    h = fit(model, loaders.train, loaders.val, epochs=5, optimizer="sgd", lr=0.1, device="cuda")
    # it trains on the GPU: far above chance (0.1) and the loss fell; 3 epochs at one seed gave 0.8 on the CPU only
    assert h.device.startswith("cuda") and h.val_acc[-1] > 0.5 and h.train_loss[-1] < h.train_loss[0]
    assert next(model.parameters()).device.type == "cuda"
    h = fit(model, loaders.train, loaders.val, epochs=1, optimizer="adam", lr=1e-3, device="cuda", amp=True)
    assert math.isfinite(h.val_loss[-1])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_refused_call_leaves_the_model_on_its_device(digits):
    model = MLP(digits.input_shape, digits.num_classes, hidden=8)
    loaders = make_loaders(digits, batch_size=32)
    with pytest.raises(ValueError, match="lr"):
        fit(model, loaders.train, loaders.val, optimizer="sgd", lr=-0.1, device="cuda")
    assert next(model.parameters()).device.type == "cpu"


@pytest.mark.parametrize("lr", [0, -0.1, float("nan"), float("inf")])
def test_bad_learning_rate(digits, lr):
    model = MLP(digits.input_shape, digits.num_classes, hidden=8)
    loaders = make_loaders(digits, batch_size=32)
    with pytest.raises(ValueError, match="lr"):
        fit(model, loaders.train, loaders.val, optimizer="sgd", lr=lr)
    with pytest.raises(ValueError, match="lr"):
        make_optimizer("adam", model.parameters(), lr)


def test_bad_learning_rate_inside_an_optimizer(digits):
    model = MLP(digits.input_shape, digits.num_classes, hidden=8)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    with pytest.raises(ValueError, match=r"lr \(optimizer param group 0\)"):
        fit(model, make_loaders(digits).train, optimizer=opt)


@pytest.mark.parametrize("epochs", [0, -1, 1.5])
def test_bad_epochs(digits, epochs):
    model = MLP(digits.input_shape, digits.num_classes, hidden=8)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, make_loaders(digits).train, epochs=epochs, optimizer="sgd", lr=0.1)


def test_other_bad_arguments(digits):
    model = MLP(digits.input_shape, digits.num_classes, hidden=8)
    train = make_loaders(digits).train
    with pytest.raises(ValueError, match="optimizer.*lbfgs"):
        fit(model, train, optimizer="lbfgs", lr=0.1)
    with pytest.raises(ValueError, match="lr is required"):
        fit(model, train, optimizer="sgd")
    with pytest.raises(ValueError, match="not both"):
        fit(model, train, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), lr=0.1)
    with pytest.raises(ValueError, match="unknown device"):
        fit(model, train, optimizer="sgd", lr=0.1, device="gpu")


def test_without_validation_monitors_training_loss(digits):
    seed_everything(0)
    model = MLP(digits.input_shape, digits.num_classes, hidden=16)
    h = fit(model, make_loaders(digits).train, epochs=2, optimizer="sgd", lr=0.1)
    assert h.monitor == "train_loss" and h.val_loss == [] and h.best_epoch is not None


def test_models_output_logits_for_both_datasets():
    from utils.models import SmallCNN, count_parameters, make_model

    for shape in [(1, 28, 28), (1, 8, 8)]:
        for model in (MLP(shape, 10), SmallCNN(shape, 10)):
            out = model(torch.randn(4, *shape))
            assert out.shape == (4, 10) and (out < 0).any()  # logits: no ReLU/softmax at the end
    mlp = make_model("mlp", (1, 28, 28), 10)
    assert count_parameters(mlp) == 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10
    assert not isinstance(list(mlp.modules())[-1], (nn.ReLU, nn.Softmax, nn.LogSoftmax))
    with pytest.raises(ValueError, match="unknown model"):
        make_model("resnet", (1, 8, 8), 10)


def test_make_optimizer_respects_an_explicit_zero_weight_decay():
    def decay(name, **kwargs):
        return make_optimizer(name, nn.Linear(2, 2).parameters(), 1e-3, **kwargs).param_groups[0]["weight_decay"]

    assert decay("adamw") == 0.01  # AdamW's decoupled decay: torch's default
    assert decay("adamw", weight_decay=0.0) == 0.0  # was silently turned into 0.01
    assert decay("adam") == 0.0 and decay("sgd", weight_decay=1e-4) == 1e-4


def test_train_one_epoch_steps_a_per_step_scheduler_on_its_own(digits):
    model = MLP(digits.input_shape, digits.num_classes, hidden=8)
    loader = make_loaders(digits, batch_size=64).train
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1 / (1 + step))
    train_one_epoch(model, loader, nn.CrossEntropyLoss(), opt, torch.device("cpu"), scheduler=sched)
    assert sched.last_epoch == len(loader)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 / (1 + len(loader)))


def test_numpy_integers_are_accepted_as_counts(digits):
    import numpy as np

    model = MLP(digits.input_shape, digits.num_classes, hidden=8)
    h = fit(model, make_loaders(digits).train, epochs=np.int64(1), optimizer="sgd", lr=0.1)
    assert len(h.epochs) == 1


def test_a_hook_raising_stop_training_ends_the_run_cleanly_with_its_history(tmp_path):
    # A tuner's pruner stops a trial from fit's log hook: fit must return the History, not lose it.
    from torch.utils.data import TensorDataset

    from utils.data import TensorLoader
    from utils.events import StopTraining

    torch.manual_seed(0)
    x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    data = TensorDataset(x, y)
    model = nn.Sequential(nn.Linear(4, 3))

    def stop_after_two_epochs(name, value, step):
        if name == "val/loss" and step >= 2 * 4:
            raise StopTraining("pruned by the test")

    history = fit(model, TensorLoader(data, 16, shuffle=True, seed=0), TensorLoader(data, 64), epochs=5,
                        optimizer="sgd", lr=0.1, log=stop_after_two_epochs)
    assert history.stop_reason == "stopped" and history.message == "pruned by the test"
    assert len(history.epochs) == 2 and len(history.step_loss) == 8
    assert history.best_epoch == 1 and history.restored_best  # epoch 2 raised before it could count as best
    assert len(history.val_loss) == 2
    assert not history.diverged and not history.interrupted
