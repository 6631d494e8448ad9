"""utils.logging_hooks: TensorBoard through fit's hook, read back with TensorBoard's own reader; the plain-text
stand-in; reading logs back (notebook 06)."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator
from torch.utils.tensorboard import SummaryWriter

import utils
from utils import events, logging_hooks
from utils.logging_hooks import ScalarLogger, open_writer, read_scalars


@pytest.fixture
def tiny_run(digits):
    """Loaders over 256 digits: 4 steps per epoch."""
    small = dataclasses.replace(digits, train=utils.subset(digits.train, 256))
    return utils.make_loaders(small, batch_size=64)


def _fit(loaders, log, epochs=3):
    torch.manual_seed(0)
    model = utils.MLP((1, 8, 8), 10, hidden=32)
    return utils.fit(model, loaders.train, loaders.val, epochs=epochs, optimizer="sgd", lr=0.1, log=log)


def test_summary_writer_through_fits_hook_read_back_by_tensorboards_event_accumulator(tmp_path, tiny_run):
    with open_writer(tmp_path / "run") as writer:  # tensorboard is in requirements.txt: a real SummaryWriter
        assert isinstance(writer, SummaryWriter)
        history = _fit(tiny_run, writer.add_scalar)

    accumulator = EventAccumulator(str(tmp_path / "run"), size_guidance={SCALARS: 0})  # 0: keep every value
    accumulator.Reload()
    logged = {tag: [(e.step, e.value) for e in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]}
    assert set(logged) == {events.TRAIN_BATCH_LOSS, events.EPOCH, *(event for event, _ in events.EPOCH_EVENTS)}

    def close(pairs, expected_steps, expected_values):  # TensorBoard stores values as 32-bit floats
        return ([s for s, _ in pairs] == expected_steps
                and all(math.isclose(v, x, rel_tol=1e-6, abs_tol=1e-7) for (_, v), x in zip(pairs, expected_values, strict=True)))

    assert close(logged[events.TRAIN_BATCH_LOSS], list(range(1, 13)), history.step_loss)
    epoch_steps = [e["step"] for e in history.epochs]
    assert epoch_steps == [4, 8, 12]
    for event, key in events.EPOCH_EVENTS:
        assert close(logged[event], epoch_steps, history.metric(key)), event
    assert close(logged[events.EPOCH], epoch_steps, [1, 2, 3])
    assert read_scalars(tmp_path / "run") == logged  # utils' reader is that same reader


def test_scalar_logger_records_what_fit_reports(tmp_path, tiny_run, capsys):
    with ScalarLogger(tmp_path / "run") as writer:
        history = _fit(tiny_run, writer.add_scalar)
    assert writer.tags == ["train/batch_loss", "train/loss", "train/acc", "val/loss", "val/acc", "lr", "epoch"]
    assert [v for _, v in writer.scalars("train/batch_loss")] == history.step_loss
    assert [s for s, _ in writer.scalars("train/batch_loss")] == list(range(1, 13))
    assert [v for _, v in writer.scalars("val/loss")] == history.val_loss
    assert [s for s, _ in writer.scalars("val/acc")] == [4, 8, 12]

    out = capsys.readouterr().out
    lines = out.splitlines()  # one printed line per epoch, batch losses left out
    assert len(lines) == 3 and lines[0].startswith("epoch 1 (step 4): train/loss ")
    assert "val/acc" in lines[2] and "batch_loss" not in out

    logged = read_scalars(tmp_path / "run")  # the JSON lines file says the same
    assert logged["val/loss"] == writer.scalars("val/loss")
    assert len(logged["train/batch_loss"]) == 12
    assert all(set(json.loads(line)) == {"tag", "value", "step", "time"}
               for line in (tmp_path / "run" / "scalars.jsonl").read_text().splitlines())


def test_scalar_logger_without_a_folder_and_without_echo(capsys):
    writer = ScalarLogger(echo=False)
    writer.add_scalar("loss", torch.tensor(0.5), 1)  # tensors and numbers alike, like SummaryWriter
    writer.add_scalar("epoch", 1, 1)
    writer.close()
    assert writer.scalars("loss") == [(1, 0.5)] and writer.get_logdir() is None
    assert capsys.readouterr().out == ""


def test_scalar_logger_refuses_bad_input():
    writer = ScalarLogger(echo=False)
    with pytest.raises(ValueError, match="tag must be a non-empty string"):
        writer.add_scalar("", 1.0, 0)
    with pytest.raises(ValueError, match="global_step must be an integer"):
        writer.add_scalar("loss", 1.0, 1.5)
    writer.add_scalar("loss", float("nan"), 0)  # a diverged value is recorded, not refused
    assert math.isnan(writer.scalars("loss")[0][1])
    with pytest.raises(ValueError, match="no values logged under tag 'acc'"):
        writer.scalars("acc")


def test_open_writer_falls_back_to_the_plain_logger(tmp_path, monkeypatch):
    assert isinstance(open_writer(tmp_path / "plain", backend="plain"), ScalarLogger)
    monkeypatch.setattr(logging_hooks, "tensorboard_available", lambda: False)
    writer = open_writer(tmp_path / "a")
    assert isinstance(writer, ScalarLogger) and (tmp_path / "a" / "scalars.jsonl").is_file()
    writer.close()
    with pytest.raises(ImportError, match="pip install tensorboard"):
        open_writer(tmp_path / "b", backend="tensorboard")
    with pytest.raises(ValueError, match="backend must be one of auto, tensorboard, plain"):
        open_writer(tmp_path / "c", backend="wandb")


def test_tensorboard_available_asks_importlib(monkeypatch):
    assert logging_hooks.tensorboard_available() is True
    seen = []
    monkeypatch.setattr(logging_hooks.importlib.util, "find_spec", lambda name: seen.append(name))
    assert logging_hooks.tensorboard_available() is False and seen == ["tensorboard"]


def test_read_scalars_of_event_files_needs_tensorboard(tmp_path, monkeypatch):
    with SummaryWriter(log_dir=str(tmp_path)) as writer:
        writer.add_scalar("val/loss", 0.5, 4)
    assert read_scalars(tmp_path) == {"val/loss": [(4, 0.5)]}
    monkeypatch.setattr(logging_hooks, "tensorboard_available", lambda: False)
    with pytest.raises(ImportError, match="pip install tensorboard"):
        read_scalars(tmp_path)


def test_read_scalars_names_the_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="log folder not found"):
        read_scalars(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no scalars.jsonl and no TensorBoard event files"):
        read_scalars(tmp_path)
