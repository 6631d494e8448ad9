"""utils.logging_hooks: the plain-text logger, the TensorBoard/plain choice and reading logs back (notebook 06)."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import sys
import types

import pytest
import torch

import utils
from utils import logging_hooks
from utils.logging_hooks import ScalarLogger, open_writer, read_scalars


@pytest.fixture
def tiny_run(digits):
    """Loaders over 256 digits: 4 steps per epoch."""
    small = dataclasses.replace(digits, train=utils.subset(digits.train, 256))
    return utils.make_loaders(small, batch_size=64)


def test_scalar_logger_records_what_fit_reports(tmp_path, tiny_run):
    stream = io.StringIO()
    torch.manual_seed(0)
    model = utils.MLP((1, 8, 8), 10, hidden=32)
    with ScalarLogger(tmp_path / "run", stream=stream) as writer:
        history = utils.fit(model, tiny_run.train, tiny_run.val, epochs=3, optimizer="sgd", lr=0.1,
                            log=writer.add_scalar, log_every=3, progress=False)
    assert writer.tags == ["train/batch_loss", "train/loss", "train/acc", "val/loss", "val/acc", "lr", "epoch"]
    assert [v for _, v in writer.scalars("train/batch_loss")] == history.step_loss
    assert [s for s, _ in writer.scalars("train/batch_loss")] == list(range(1, 13))
    assert [v for _, v in writer.scalars("val/loss")] == history.val_loss
    assert [s for s, _ in writer.scalars("val/acc")] == [4, 8, 12]

    lines = stream.getvalue().splitlines()  # one printed line per epoch, batch losses left out
    assert len(lines) == 3 and lines[0].startswith("epoch 1 (step 4): train/loss ")
    assert "val/acc" in lines[2] and "batch_loss" not in stream.getvalue()

    logged = read_scalars(tmp_path / "run")  # the JSON lines file says the same
    assert logged["val/loss"] == writer.scalars("val/loss")
    assert len(logged["train/batch_loss"]) == 12
    assert all(set(json.loads(line)) == {"tag", "value", "step", "time"}
               for line in (tmp_path / "run" / "scalars.jsonl").read_text().splitlines())


def test_scalar_logger_without_a_folder_and_without_echo(capsys):
    writer = ScalarLogger(echo=False)
    writer("loss", torch.tensor(0.5), 1)  # tensors and numbers alike, like SummaryWriter
    writer.log("epoch", 1, 1)
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
    monkeypatch.setattr(logging_hooks, "tensorboard_available", lambda: False)
    writer = open_writer(tmp_path / "a")
    assert isinstance(writer, ScalarLogger) and (tmp_path / "a" / "scalars.jsonl").is_file()
    writer.close()
    with pytest.raises(ImportError, match="pip install tensorboard"):
        open_writer(tmp_path / "b", backend="tensorboard")
    with pytest.raises(ValueError, match="backend must be one of auto, tensorboard, plain"):
        open_writer(tmp_path / "c", backend="wandb")


def test_tensorboard_available_asks_importlib(monkeypatch):
    seen = []
    monkeypatch.setattr(logging_hooks.importlib.util, "find_spec", lambda name: seen.append(name))
    assert logging_hooks.tensorboard_available() is False and seen == ["tensorboard"]


def test_open_writer_uses_summary_writer_when_tensorboard_is_installed(tmp_path, monkeypatch):
    class FakeSummaryWriter:
        def __init__(self, log_dir=None):
            self.log_dir = log_dir

    fake = types.ModuleType("torch.utils.tensorboard")
    fake.SummaryWriter = FakeSummaryWriter
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", fake)
    monkeypatch.setattr(logging_hooks, "tensorboard_available", lambda: True)
    writer = open_writer(tmp_path / "run")
    assert isinstance(writer, FakeSummaryWriter) and writer.log_dir == str(tmp_path / "run")
    assert isinstance(open_writer(tmp_path / "plain", backend="plain"), ScalarLogger)


def test_read_scalars_reads_tensorboard_event_files_with_event_accumulator(tmp_path, monkeypatch):
    """The TensorBoard branch, with a stand-in for tensorboard's EventAccumulator (same names, same shapes)."""
    event = types.SimpleNamespace
    opened = {}

    class FakeAccumulator:
        def __init__(self, path, size_guidance=None):
            opened.update(path=path, size_guidance=size_guidance)

        def Reload(self):  # noqa: N802 (TensorBoard's spelling)
            opened["reloaded"] = True

        def Tags(self):  # noqa: N802
            return {"scalars": ["val/loss"], "images": []}

        def Scalars(self, tag):  # noqa: N802
            return [event(wall_time=0.0, step=4, value=0.5), event(wall_time=1.0, step=8, value=0.25)]

    modules = {}
    for name in ("tensorboard", "tensorboard.backend", "tensorboard.backend.event_processing",
                 "tensorboard.backend.event_processing.event_accumulator"):
        modules[name] = types.ModuleType(name)
        monkeypatch.setitem(sys.modules, name, modules[name])
    accumulator_module = modules["tensorboard.backend.event_processing.event_accumulator"]
    accumulator_module.EventAccumulator = FakeAccumulator
    accumulator_module.SCALARS = "scalars"
    modules["tensorboard.backend.event_processing"].event_accumulator = accumulator_module
    monkeypatch.setattr(logging_hooks, "tensorboard_available", lambda: True)

    (tmp_path / "events.out.tfevents.123.host").write_bytes(b"")
    assert read_scalars(tmp_path) == {"val/loss": [(4, 0.5), (8, 0.25)]}
    assert opened == {"path": str(tmp_path), "size_guidance": {"scalars": 0}, "reloaded": True}  # 0: keep every value

    monkeypatch.setattr(logging_hooks, "tensorboard_available", lambda: False)
    with pytest.raises(ImportError, match="pip install tensorboard"):
        read_scalars(tmp_path)


def test_read_scalars_names_the_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="log folder not found"):
        read_scalars(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no scalars.jsonl and no TensorBoard event files"):
        read_scalars(tmp_path)


@pytest.mark.skipif(not logging_hooks.tensorboard_available(), reason="tensorboard is not installed")
def test_real_tensorboard_round_trip(tmp_path, tiny_run):
    model = utils.MLP((1, 8, 8), 10, hidden=32)
    with open_writer(tmp_path) as writer:
        history = utils.fit(model, tiny_run.train, tiny_run.val, epochs=2, optimizer="sgd", lr=0.1,
                            log=writer.add_scalar, progress=False)
    logged = read_scalars(tmp_path)
    assert [s for s, _ in logged["val/loss"]] == [4, 8]
    assert all(math.isclose(v, h, rel_tol=1e-6) for (_, v), h in zip(logged["val/loss"], history.val_loss, strict=True))
