"""utils.checkpoints: atomic writes, plain contents, clear refusals (shared/reviews/reliability.md section 5)."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import utils
from utils.checkpoints import CheckpointError, load_checkpoint, save_checkpoint

ROOT = Path(__file__).resolve().parent.parent


def _temp_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp"))


# ----------------------------------------------------------------------------------------------- 5.7 metadata
def test_5_7_numpy_path_and_history_metadata_load_back_as_plain_values(tmp_path):
    path = tmp_path / "x.pt"
    history = utils.History(step_loss=[1.0, 0.5])
    save_checkpoint(path, nn.Linear(2, 2), val_acc=np.float64(0.9), epoch=np.int64(3), curve=np.arange(3),
                    where=Path("some_dir"), history=history, device=torch.device("cpu"))
    ckpt = load_checkpoint(path)  # torch.load(weights_only=True) accepts every value
    assert ckpt["val_acc"] == 0.9 and type(ckpt["val_acc"]) is float
    assert ckpt["epoch"] == 3 and type(ckpt["epoch"]) is int
    assert torch.equal(ckpt["curve"], torch.arange(3))
    assert ckpt["where"] == "some_dir" and ckpt["device"] == "cpu"
    assert ckpt["history"]["step_loss"] == [1.0, 0.5]


def test_5_7_other_objects_are_refused_at_save_time(tmp_path):
    path = tmp_path / "x.pt"
    with pytest.raises(CheckpointError, match=r"extra\['f'\]"):
        save_checkpoint(path, nn.Linear(2, 2), extra={"f": object()})
    assert not path.exists() and _temp_files(tmp_path) == []


# ----------------------------------------------------------------------------------------------- 5.6, 5.8 bad files
def test_5_6_truncated_empty_and_random_files_are_named(tmp_path):
    good = tmp_path / "good.pt"
    save_checkpoint(good, nn.Linear(3, 3), epoch=1)
    data = good.read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "random.pt").write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(CheckpointError, match=r"truncated\.pt"):
        load_checkpoint(tmp_path / "truncated.pt")
    with pytest.raises(CheckpointError, match=r"empty\.pt"):
        load_checkpoint(tmp_path / "empty.pt")
    with pytest.raises(CheckpointError, match=r"random\.pt"):
        load_checkpoint(tmp_path / "random.pt")


def test_5_8_a_bare_state_dict_gets_an_explanation(tmp_path):
    path = tmp_path / "model_weights.pth"
    model = nn.Linear(3, 3)
    torch.save(model.state_dict(), path)  # the PyTorch tutorial's format
    with pytest.raises(CheckpointError, match=r"model_weights\.pth.*state_dict"):
        load_checkpoint(path, model)


def test_5_9_weights_of_another_architecture_name_the_file(tmp_path):
    path = tmp_path / "linear.pt"
    save_checkpoint(path, nn.Linear(3, 3))
    with pytest.raises(CheckpointError, match=r"linear\.pt.*Linear"):
        load_checkpoint(path, nn.Linear(4, 4))


# ----------------------------------------------------------------------------------------------- 5.5 malicious pickle
class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))  # creates the marker file when unpickled


@pytest.mark.parametrize("kind", ["inside_dict", "top_level", "raw_pickle", "legacy"])
def test_5_5_malicious_pickles_are_refused_without_running_them(tmp_path, kind):
    marker, path = tmp_path / "pwned", tmp_path / "evil.pt"
    state = nn.Linear(2, 2).state_dict()
    if kind == "inside_dict":
        torch.save({"model": state, "extra": Payload(marker)}, path)
    elif kind == "top_level":
        torch.save(Payload(marker), path)
    elif kind == "raw_pickle":
        path.write_bytes(pickle.dumps({"model": state, "extra": Payload(marker)}, protocol=2))
    else:
        torch.save({"model": state, "extra": Payload(marker)}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match="could run code"):
        load_checkpoint(path)
    assert not marker.exists()
    # the control: the payload really runs when allowed to
    pickle.loads(path.read_bytes()) if kind == "raw_pickle" else torch.load(path, weights_only=False)
    assert marker.exists()


# ----------------------------------------------------------------------------------------------- 5.1-5.3 kills
SAVE_LOOP = """
import sys, torch, utils
from torch import nn
model = nn.Sequential(nn.Linear(512, 512), nn.Linear(512, 512), nn.Linear(512, 512))
step = int(sys.argv[2])
while True:
    step += 1
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(step)
    utils.save_checkpoint(sys.argv[1], model, step=step)
    print(step, flush=True)
"""


@pytest.mark.skipif(os.name != "posix", reason="uses SIGKILL")
@pytest.mark.slow
def test_5_1_sigkill_mid_write_never_corrupts(tmp_path):
    path = tmp_path / "ckpt.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    step = 0
    for trial in range(4):
        child = subprocess.Popen([sys.executable, "-c", SAVE_LOOP, str(path), str(step * 1000)],
                                 stdout=subprocess.PIPE, text=True, env=env)
        child.stdout.readline()  # one save finished
        time.sleep(0.05 * trial)
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        ckpt = load_checkpoint(path)  # never half a file
        assert all(torch.all(t == ckpt["step"]) for t in ckpt["model"].values())
        step = trial + 1


def test_a_users_file_next_to_the_checkpoint_is_never_deleted(tmp_path):
    # reliability 2026-12-04 A32: the stale-temp sweep deleted `.best.pt.backup.tmp`; there is no sweep now
    mine = tmp_path / ".m.pt.backup.tmp"
    mine.write_text("my notes")
    os.utime(mine, (time.time() - 3600,) * 2)
    save_checkpoint(tmp_path / "m.pt", nn.Linear(2, 2))
    assert mine.read_text() == "my notes"


@pytest.mark.parametrize("contents", [b"root:x:0:0:root:/root:/bin/bash\n" * 20, b"hello\n"])
def test_text_files_are_a_checkpoint_error_naming_the_file(tmp_path, contents):
    # reliability 2026-12-04 G3: IndexError / KeyError escaped from torch's weights-only unpickler
    path = tmp_path / "notes.txt"
    path.write_bytes(contents)
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(path)


def test_a_failed_write_is_an_oserror_naming_the_file(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"

    def full_disk(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 1152 vs 1046")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError) as caught:
        save_checkpoint(path, nn.Linear(2, 2))
    assert caught.value.filename == str(path) and not path.exists() and _temp_files(tmp_path) == []


def test_checkpoints_get_normal_file_permissions(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", nn.Linear(2, 2))
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
