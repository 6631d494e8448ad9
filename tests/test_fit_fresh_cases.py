"""fit's edge, second round: cases a fresh tester found on 2026-12-05 against the redesigned fit (C01, C05, C13,
C25 of its report; C10-C12 after it). Each would fail with the code before its fix."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

from utils import MLP, TensorLoader, fit


@pytest.fixture
def loaders(digits):
    x, y = (t[:128] for t in digits.train.tensors)
    return TensorLoader(TensorDataset(x, y), 64), TensorLoader(TensorDataset(x[:64], y[:64]), 64)


def _model(digits):
    torch.manual_seed(0)
    return MLP(digits.input_shape, digits.num_classes, hidden=16)


@pytest.mark.parametrize("device", [0, "tpu"])
def test_c01_a_refused_device_leaves_fit_with_the_history(digits, loaders, device):
    with pytest.raises((ValueError, TypeError, RuntimeError)) as caught:
        fit(_model(digits), loaders[0], epochs=1, optimizer="sgd", lr=0.1, device=device)
    assert caught.value.history.epochs == []  # the rule: every exception leaving fit carries the History


@pytest.mark.parametrize("path", [123, True])
def test_c05_a_checkpoint_that_is_not_a_path_is_named(digits, loaders, path):
    with pytest.raises(ValueError, match="checkpoint"):
        fit(_model(digits), loaders[0], epochs=1, optimizer="sgd", lr=0.1, checkpoint=path)


def test_c13_a_nan_input_at_step_1_does_not_claim_that_no_update_ran(digits, loaders):
    x, y = (t.clone() for t in loaders[0].dataset.tensors) if hasattr(loaders[0], "dataset") else (None, None)
    x[3] = float("nan")
    model = _model(digits)
    h = fit(model, TensorLoader(TensorDataset(x, y), 64), optimizer="sgd", lr=0.1)
    assert h.diverged and "at the first step" in h.message
    assert "before any update" not in h.message  # the step did run: the weights are nan now
    assert any(not torch.isfinite(p).all() for p in model.parameters())


def test_c25_a_run_never_overwrites_a_checkpoint_that_appeared_after_it_started(digits, loaders, tmp_path):
    path = tmp_path / "run.pt"
    other = {}

    def other_run_finishes_first(name, value, step):  # while this run trains, another run writes the same path
        if step == 1 and not other:
            other["history"] = fit(_model(digits), loaders[0], epochs=1, optimizer="sgd", lr=0.05, checkpoint=path)

    with pytest.raises(OSError, match="run.pt") as caught:
        fit(_model(digits), loaders[0], epochs=1, optimizer="sgd", lr=0.1, checkpoint=path,
            log=other_run_finishes_first)
    assert caught.value.history is not None
    saved = torch.load(path, weights_only=True)
    assert saved["run"]["settings"]["param_groups"][0]["lr"] == 0.05  # the other run's file is intact


@pytest.mark.parametrize("make", [lambda opt: "cosine", lambda opt: (lambda: None),
                                  lambda opt: torch.optim.lr_scheduler.ReduceLROnPlateau(opt)])
def test_c06_c07_a_scheduler_fit_cannot_drive_is_refused_before_the_first_step(digits, loaders, make):
    model = _model(digits)
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="scheduler") as caught:
        fit(model, loaders[0], epochs=1, optimizer=optimizer, scheduler=make(optimizer), scheduler_interval="step")
    assert caught.value.history.step_loss == []
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.mark.parametrize("optimizer", [None, torch.optim.SGD, 0.1])
def test_c02_an_optimizer_of_the_wrong_kind_is_named(digits, loaders, optimizer):
    with pytest.raises(ValueError, match="optimizer must be a name") as caught:
        fit(_model(digits), loaders[0], epochs=1, optimizer=optimizer)
    assert caught.value.history.step_loss == []


def test_c03_c04_a_value_that_is_not_a_loader_is_refused_before_training(digits, loaders):
    model = _model(digits)
    with pytest.raises(ValueError, match="val_loader must be a loader"):
        fit(model, loaders[0], 3, optimizer="sgd", lr=0.1)  # 3 meant as epochs, taken as val_loader
    with pytest.raises(ValueError, match="train_loader must be a loader"):
        fit(model, loaders[0].dataset, epochs=1, optimizer="sgd", lr=0.1)  # the dataset, not a loader


def test_c08_c09_accuracy_of_a_binary_logit_and_of_column_labels(digits):
    torch.manual_seed(0)
    x = torch.randn(256, 4)
    y = (torch.rand(256) < 0.5).float()
    model = torch.nn.Linear(4, 1)
    binary = TensorLoader(TensorDataset(x, y[:, None]), 64)  # BCE: labels as a column N x 1
    h = fit(model, binary, binary, epochs=1, optimizer="sgd", lr=1e-6,
            loss_fn=torch.nn.BCEWithLogitsLoss())
    with torch.no_grad():
        truth = ((model(x)[:, 0] > 0).float() == y).float().mean().item()
    assert h.val_acc[-1] == pytest.approx(truth)  # not 100 % from the argmax of one column
    assert 0.2 < h.val_acc[-1] < 0.8  # random labels: about half


def test_c17_resuming_with_a_validation_loader_added_or_removed_is_refused(digits, loaders, tmp_path):
    path = tmp_path / "run.pt"
    fit(_model(digits), loaders[0], loaders[1], epochs=1, optimizer="sgd", lr=0.1, checkpoint=path)
    with pytest.raises(Exception, match="best_by") as caught:
        fit(_model(digits), loaders[0], epochs=2, optimizer="sgd", lr=0.1, checkpoint=path)
    assert str(path) in str(caught.value)


def test_c19_a_refused_run_file_leaves_the_model_and_optimizer_as_they_were(digits, loaders, tmp_path):
    from utils.checkpoints import CheckpointError
    path = tmp_path / "run.pt"
    fit(_model(digits), loaders[0], epochs=1, optimizer="sgd", lr=0.1, checkpoint=path)
    state = torch.load(path, weights_only=True)
    del state["run"]["history"]["step_loss"]  # a broken history: the file is refused
    torch.save(state, path)
    model = _model(digits)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(CheckpointError, match="run.pt"):
        fit(model, loaders[0], epochs=2, optimizer="sgd", lr=0.1, checkpoint=path)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_c29_a_study_that_maximizes_is_refused(tmp_path):
    optuna = pytest.importorskip("optuna")
    from utils import tuning
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(storage=tuning.open_storage(storage), study_name="s", direction="maximize")
    with pytest.raises(ValueError, match="maximizes"):
        tuning.open_study(storage, "s")


@pytest.mark.parametrize("kwargs, named", [({"lr_range": (0, 1.0)}, "lr_range"), ({"lr_range": (0.1, 0.1)}, "lr_range"),
                                           ({"weight_decay_range": (1e-3, -1)}, "weight_decay_range"),
                                           ({"batch_sizes": []}, "batch_sizes"), ({"batch_sizes": [0, 32]}, "batch_sizes")])
def test_c27_random_configs_names_a_range_it_cannot_draw_from(kwargs, named):
    from utils import tuning
    with pytest.raises(ValueError, match=named):
        tuning.random_configs(4, **kwargs)


def test_c28_another_programs_json_lines_file_is_not_taken_for_a_journal(tmp_path):
    pytest.importorskip("optuna")
    from utils import tuning
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "loss": 2.3}\n{"step": 2, "loss": 2.1}\n')
    with pytest.raises(ValueError, match="metrics.jsonl, line 1"):
        tuning.check_journal(str(path))
    assert path.read_text().count("\n") == 2  # left as it was


def test_c18_a_guard_that_joins_a_continued_run_asks_for_its_first_loss(digits, loaders, tmp_path):
    import utils
    path = tmp_path / "run.pt"
    first = fit(_model(digits), loaders[0], epochs=2, optimizer="sgd", lr=0.1, checkpoint=path)
    with pytest.raises(ValueError, match="first=history.step_loss"):  # not a healthy run stopped as "diverged"
        fit(_model(digits), loaders[0], epochs=4, optimizer="sgd", lr=0.1, checkpoint=path,
            log=utils.DivergenceGuard(4))
    path.unlink()
    fit(_model(digits), loaders[0], epochs=2, optimizer="sgd", lr=0.1, checkpoint=path)
    h = fit(_model(digits), loaders[0], epochs=4, optimizer="sgd", lr=0.1, checkpoint=path,
            log=utils.DivergenceGuard(4, first=first.step_loss[0]))
    assert not h.diverged and len(h.epochs) == 4


class _Batches:
    """A loader that yields the given batches (what a hand-made Dataset or collate_fn might give)."""

    def __init__(self, *batches):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)

    def __len__(self):
        return len(self.batches)


@pytest.mark.parametrize("batch, named", [
    (lambda x, y: x, "Tensor"),                          # C10: inputs without labels
    (lambda x, y: (x,), "tuple of 1"),                    # C10: a tuple of one
    (lambda x, y: {"image": x, "label": y}, "image"),     # C11: a dict batch (Hugging Face style)
])
def test_c10_c11_a_batch_that_is_not_inputs_and_labels_is_named(digits, loaders, batch, named):
    x, y = next(iter(loaders[0]))
    with pytest.raises(TypeError, match="loader") as caught:
        fit(_model(digits), _Batches(batch(x, y)), epochs=1, optimizer="sgd", lr=0.1)
    assert named in str(caught.value) and caught.value.history.step_loss == []


def test_c12_an_empty_batch_is_named_not_reported_as_divergence(digits, loaders):
    x, y = next(iter(loaders[0]))
    with pytest.raises(ValueError, match="0 samples") as caught:
        fit(_model(digits), _Batches((x, y), (x[:0], y[:0])), epochs=1, optimizer="sgd", lr=0.1)
    assert len(caught.value.history.step_loss) == 1 and not caught.value.history.diverged


def test_extra_entries_after_the_labels_are_still_ignored(digits, loaders):
    x, y = next(iter(loaders[0]))
    h = fit(_model(digits), _Batches((x, y, torch.arange(len(y)))), epochs=1, optimizer="sgd", lr=0.1)
    assert len(h.step_loss) == 1
