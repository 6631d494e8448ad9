"""fit(..., checkpoint=path): a run stopped after epoch k and resumed equals the run that never stopped (CPU)."""

from __future__ import annotations

import pytest
import torch

from utils import MLP, fit, load_checkpoint, make_loaders, save_checkpoint
from utils.checkpoints import CheckpointError
from utils.seeding import seed_everything


def _setup(digits, seed=0):
    """Model (with dropout: the RNG matters), Adam (state matters), a step schedule, shuffled loaders."""
    seed_everything(seed)
    model = MLP(digits.input_shape, digits.num_classes, hidden=32, dropout=0.2)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    loaders = make_loaders(digits, batch_size=64, seed=seed)
    return model, optimizer, scheduler, loaders


def _fit(setup, epochs, **kwargs):
    model, optimizer, scheduler, loaders = setup
    return fit(model, loaders.train, loaders.val, epochs=epochs, optimizer=optimizer, scheduler=scheduler, **kwargs)


def _comparable(history):
    record = history.to_dict()
    for key in ("elapsed", "message", "stop_reason", "interrupted", "restored_best", "notes"):
        record.pop(key)
    record["epochs"] = [{k: v for k, v in e.items() if k != "time"} for e in record["epochs"]]
    return record


def test_stopped_and_resumed_equals_uninterrupted(digits, tmp_path):
    whole_setup = _setup(digits)
    whole = _fit(whole_setup, 4)

    path = tmp_path / "run.pt"
    _fit(_setup(digits), 2, checkpoint=path)  # "the kernel died after epoch 2"
    random_noise = torch.rand(100)  # the new process draws other random numbers before resuming  # noqa: F841
    resumed_setup = _setup(digits, seed=0)
    seed_everything(123)  # and its global generators are elsewhere
    resumed = _fit(resumed_setup, 4, checkpoint=path)

    assert [e["epoch"] for e in resumed.epochs] == [1, 2, 3, 4]
    assert _comparable(resumed) == _comparable(whole)
    for p, q in zip(whole_setup[0].parameters(), resumed_setup[0].parameters(), strict=True):
        assert torch.equal(p, q)
    assert resumed_setup[2].get_last_lr() == whole_setup[2].get_last_lr()


def test_a_run_file_is_plain_weights_only_data_with_the_best_weights_on_top(digits, tmp_path):
    path = tmp_path / "run.pt"
    setup = _setup(digits)
    h = _fit(setup, 2, checkpoint=path)
    state = torch.load(path, weights_only=True)
    assert state["epoch"] == h.best_epoch and state["run"]["epoch"] == 2
    model = MLP(digits.input_shape, digits.num_classes, hidden=32, dropout=0.2)
    assert load_checkpoint(path, model)["epoch"] == h.best_epoch
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), setup[0].state_dict().values()))


def test_a_resume_file_of_another_model_or_a_corrupt_one_is_refused(digits, tmp_path):
    path = tmp_path / "run.pt"
    _fit(_setup(digits), 1, checkpoint=path)
    seed_everything(0)
    other = MLP(digits.input_shape, digits.num_classes, hidden=16)
    opt = torch.optim.Adam(other.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1)
    loaders = make_loaders(digits, batch_size=64)
    with pytest.raises(CheckpointError, match=str(path)) as caught:
        fit(other, loaders.train, loaders.val, epochs=2, optimizer=opt, scheduler=sched, checkpoint=path)
    assert "parameters" in str(caught.value)  # the differing setting is named

    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match=str(path)):
        _fit(_setup(digits), 2, checkpoint=path)

    plain = tmp_path / "weights.pt"
    save_checkpoint(plain, _setup(digits)[0])
    with pytest.raises(CheckpointError, match=str(plain)):
        _fit(_setup(digits), 2, checkpoint=plain)
    with pytest.raises(ValueError, match="checkpoint"):
        _fit(_setup(digits), 2, checkpoint=tmp_path)
