"""utils.distributed and scripts/ddp_train.py (notebook 07): sharding, rank-0 helpers, and a real 2-process run."""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import TensorDataset

import utils
import utils.distributed as ud
import utils.launch
from utils.data import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "ddp_train.py"


def _script_module():
    spec = importlib.util.spec_from_file_location("ddp_train", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def single_process_group(monkeypatch):
    """A real gloo process group of one process, set up the way torchrun would (environment variables)."""
    for name, value in {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "1",
                        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())}.items():
        monkeypatch.setenv(name, value)
    info = ud.init_distributed("cpu", timeout_s=30)
    yield info
    ud.cleanup()


def _data(n: int = 20) -> TensorDataset:
    return TensorDataset(torch.arange(n, dtype=torch.float32).unsqueeze(1), torch.arange(n) % 3)


# ----------------------------------------------------------------------------------------------- devices and backends
def test_backend_matches_device():
    assert ud.backend_for("cpu") == "gloo"
    assert ud.backend_for(torch.device("cuda", 1)) == "nccl"
    with pytest.raises(ValueError, match="device"):
        ud.backend_for("mps")


def test_worker_device_choices():
    assert ud.worker_device("cpu", 1, 2) == torch.device("cpu")
    with pytest.raises(ValueError, match="device must be"):
        ud.worker_device("gpu", 0, 1)
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if gpus < 2:
        assert ud.worker_device("auto", 1, 2) == torch.device("cpu")  # never two processes on one GPU
        with pytest.raises(ValueError, match="one GPU per process"):
            ud.worker_device("cuda", 1, 2)


def test_init_without_torchrun_says_how_to_launch(monkeypatch):
    for name in ud.TORCHRUN_ENV:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError, match="torchrun"):
        ud.init_distributed("cpu")
    with pytest.raises(ValueError, match="timeout_s"):
        ud.init_distributed("cpu", timeout_s=0)


def test_init_and_cleanup_of_a_real_group(single_process_group):
    info = single_process_group
    assert (info.rank, info.world_size, info.backend, info.device.type, info.is_main) == (0, 1, "gloo", "cpu", True)
    assert dist.is_initialized() and dist.get_backend() == "gloo"
    ud.cleanup()
    assert not dist.is_initialized()
    ud.cleanup()  # a second call is harmless


def test_context_manager_leaves_the_group_after_an_error(monkeypatch):
    for name, value in {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                        "MASTER_PORT": str(_free_port())}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(KeyError):
        with ud.distributed("cpu", timeout_s=30):
            assert dist.is_initialized()
            raise KeyError("boom")
    assert not dist.is_initialized()


# ----------------------------------------------------------------------------------------------- sharding
def test_shards_are_equal_contiguous_and_cover_the_batch():
    batch = torch.arange(12)
    parts = [ud.shard(batch, rank, 3) for rank in range(3)]
    assert [p.tolist() for p in parts] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert ud.shard_bounds(12, 2, 3) == (8, 12)
    with pytest.raises(ValueError, match="equal shards"):
        ud.shard_bounds(10, 0, 3)
    with pytest.raises(ValueError, match="rank"):
        ud.shard(batch, 3, 3)
    with pytest.raises(ValueError, match="world_size"):
        ud.shard(batch, 0, 0)


def test_one_rank_sharded_loader_equals_tensor_loader():
    data = _data(20)
    sharded = ud.ShardedLoader(data, 4, rank=0, world_size=1, seed=7)
    plain = utils.TensorLoader(data, 4, shuffle=True, seed=7)
    for _ in range(2):  # two epochs: new permutations, the same ones in both
        pairs = list(zip(sharded, plain, strict=True))
        assert len(pairs) == 5
        for (xs, ys), (xp, yp) in pairs:
            assert torch.equal(xs, xp) and torch.equal(ys, yp)


def test_ranks_slices_put_together_make_the_global_batch():
    data = _data(22)  # 22 = 5 global batches of 4, plus 2 samples that are dropped
    one = list(ud.ShardedLoader(data, 4, rank=0, world_size=1, seed=3))
    ranks = [list(ud.ShardedLoader(data, 4, rank=r, world_size=2, seed=3)) for r in range(2)]
    assert len(one) == len(ranks[0]) == len(ranks[1]) == 5
    for step, (x, _) in enumerate(one):
        assert torch.equal(torch.cat([ranks[0][step][0], ranks[1][step][0]]), x)
        assert len(ranks[0][step][0]) == len(ranks[1][step][0]) == 2
    seen = torch.cat([x for x, _ in one]).flatten()
    assert len(seen.unique()) == 20  # no sample twice within an epoch


def test_sharded_loader_rejects_bad_sizes():
    with pytest.raises(ValueError, match="multiple of world_size"):
        ud.ShardedLoader(_data(), 5, rank=0, world_size=2)
    with pytest.raises(ValueError, match="fewer than global_batch_size"):
        ud.ShardedLoader(_data(6), 8, rank=0, world_size=2)
    with pytest.raises(ValueError, match="rank"):
        ud.ShardedLoader(_data(), 4, rank=2, world_size=2)


# ----------------------------------------------------------------------------------------------- metrics, printing, saving
def test_reduce_epoch_result_without_other_ranks_is_unchanged():
    result = ud.reduce_epoch_result(utils.EpochResult(loss=0.5, accuracy=0.25, samples=8))
    assert result == utils.EpochResult(loss=0.5, accuracy=0.25, samples=8)
    assert ud.all_reduce_sum([1.0, 2.0]).tolist() == [1.0, 2.0]


def test_print0_prints_on_rank_0_only(capsys):
    ud.print0("hello", rank=1)
    assert capsys.readouterr().out == ""
    ud.print0("hello", rank=0)
    assert capsys.readouterr().out == "hello\n"
    ud.print0("no group: I am rank 0")
    assert "rank 0" in capsys.readouterr().out


def test_checkpoint_of_a_ddp_model_loads_into_a_plain_model(single_process_group, tmp_path):
    torch.manual_seed(0)
    ddp_model = nn.parallel.DistributedDataParallel(nn.Linear(3, 2))
    assert next(iter(ddp_model.state_dict())).startswith("module.")
    path = ud.save_checkpoint_on_main(tmp_path / "m.pt", ddp_model, epochs=1)
    plain = nn.Linear(3, 2)
    checkpoint = utils.load_checkpoint(path, plain)
    assert checkpoint["epochs"] == 1
    assert torch.equal(plain.weight, ddp_model.module.weight)
    assert ud.max_difference_across_ranks(ddp_model) == 0.0


def test_write_json_atomic_leaves_only_the_file(tmp_path):
    path = ud.write_json_on_main(tmp_path / "sub" / "s.json", {"a": [1, 2]})
    assert json.loads(path.read_text()) == {"a": [1, 2]}
    assert [p.name for p in path.parent.iterdir()] == ["s.json"]


def test_torchrun_command_uses_this_python():
    command = utils.launch.torchrun_command("scripts/x.py", ["--out", 3], nproc=2)
    assert command[1:5] == ["-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone"]
    assert command[-3:] == ["scripts/x.py", "--out", "3"]
    with pytest.raises(ValueError, match="nproc"):
        utils.launch.torchrun_command("x.py", nproc=0)
    with pytest.raises(ValueError, match="threads_per_process"):
        utils.launch.run_torchrun("x.py", threads_per_process=0)


def test_ddp_script_is_found_from_any_working_directory(tmp_path, monkeypatch):  # review 7.3
    monkeypatch.chdir(tmp_path)
    assert utils.launch.ddp_script() == SCRIPT and SCRIPT.is_file()
    monkeypatch.setattr(utils.launch, "REPO_ROOT", tmp_path)  # utils without the repository around it
    with pytest.raises(FileNotFoundError, match="pip install -e"):
        utils.launch.ddp_script()


def test_numpy_integers_are_fine_ranks_and_sizes():
    x = torch.arange(8)
    assert torch.equal(ud.shard(x, np.int64(1), np.int64(2)), x[4:])
    assert ud.ShardedLoader(_data(), np.int64(4), rank=0, world_size=2).batch_size == 2
    assert utils.launch.torchrun_command("x.py", nproc=np.int64(2))[3] == "--nproc_per_node=2"


@pytest.mark.parametrize("argument, value", [("--epochs", "0"), ("--epochs", "-1"), ("--lr", "0"), ("--lr", "nan"),
                                             ("--n-train", "0"), ("--batch-per-process", "-3"), ("--seed", "-1")])
def test_the_script_refuses_bad_arguments_before_it_starts(argument, value, capsys):  # review 8.5
    with pytest.raises(SystemExit) as stopped:
        _script_module().parse_args(["--out", "x", argument, value])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {argument}: must be" in err and value in err


@pytest.mark.slow  # starts torchrun and its processes
def test_a_diverging_ddp_run_fails_and_saves_nothing(tmp_path):  # review 8.6
    with pytest.raises(RuntimeError, match="exited with code") as failed:
        utils.launch.run_torchrun(SCRIPT, ["--out", tmp_path / "out", "--dataset", "digits", "--n-train", 64,
                                 "--batch-per-process", 8, "--epochs", 2, "--lr", 1e6, "--device", "cpu"],
                        nproc=2, timeout_s=120)
    assert "Training diverged at step" in str(failed.value) and "Nothing was saved" in str(failed.value)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has finished


@pytest.mark.slow  # starts torchrun and its processes
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_run_past_its_timeout_is_stopped_with_its_workers(tmp_path):
    script = tmp_path / "sleeper.py"
    script.write_text("import os, pathlib, time\n"
                      f"pathlib.Path({str(tmp_path)!r}, f'pid{{os.environ[\"RANK\"]}}').write_text(str(os.getpid()))\n"
                      "time.sleep(120)\n")
    # 6 s on a quiet machine; where the workers had not started by then (a loaded 2-core machine took over 10 s to
    # start Python), once more with 30 s, so that the check below always has workers to look for
    for limit in (6, 30):
        for old in tmp_path.glob("pid*"):
            old.unlink()
        start = time.perf_counter()
        with pytest.raises(RuntimeError, match=f"did not finish within {limit} s"):
            utils.launch.run_torchrun(script, nproc=2, cwd=tmp_path, timeout_s=limit)
        assert time.perf_counter() - start < limit + 25
        pids = [int(p.read_text()) for p in tmp_path.glob("pid*")]
        if len(pids) == 2:
            break
    assert len(pids) == 2, "the workers did not start within the timeout"
    time.sleep(0.5)
    assert not [pid for pid in pids if _alive(pid)], "a worker outlived its stopped torchrun"


@pytest.mark.slow  # starts torchrun and its processes
def test_a_failing_script_raises_with_its_output(tmp_path):
    script = tmp_path / "fails.py"
    script.write_text("raise SystemExit('no such luck')\n")
    with pytest.raises(RuntimeError, match="exited with code"):
        utils.launch.run_torchrun(script, nproc=1, cwd=tmp_path, timeout_s=60)


@pytest.mark.slow  # starts torchrun and its processes
# ----------------------------------------------------------------------------------------------- the real thing
def test_two_processes_with_batch_b_match_one_process_with_batch_2b(tmp_path, digits):
    """torchrun, 2 CPU processes (gloo), batch 8 each == one process, batch 16: same parameters, same losses."""
    n_train, batch, epochs, lr = 128, 8, 2, 0.1
    done = utils.launch.run_torchrun(SCRIPT, ["--out", tmp_path, "--dataset", "digits", "--n-train", n_train,
                                    "--batch-per-process", batch, "--epochs", epochs, "--lr", lr, "--device", "cpu"],
                           nproc=2, timeout_s=120)
    assert done.stdout.count("epoch 1:") == 1  # two processes trained, only rank 0 printed
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["world_size"], summary["backend"], summary["global_batch_size"]) == (2, "gloo", 16)
    assert summary["steps_per_epoch"] == n_train // 16
    assert summary["param_gap_between_ranks"] == 0.0
    assert summary["init_gap_before_wrap"] > 1e-3  # every rank seeds with seed + rank: different initial weights...
    assert summary["init_gap_after_wrap"] == 0.0   # ...until DDP broadcasts rank 0's when it wraps the model
    assert summary["allreduce"]["local_gap_between_ranks"] > 1e-4  # different shards, different gradients
    assert summary["allreduce"]["synced_gap_between_ranks"] == 0.0
    assert summary["allreduce"]["synced_vs_mean_of_local"] < 1e-6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp_model.pt", "summary.json"]

    def one_process(batch_size: int):
        utils.seed_everything(0)
        model = utils.MLP(digits.input_shape, digits.num_classes)
        loader = utils.TensorLoader(utils.subset(digits.train, n=n_train), batch_size, shuffle=True, seed=0)
        history = utils.fit(model, loader, epochs=epochs, optimizer="sgd", lr=lr, restore_best=False, device="cpu")
        return model, history

    ddp_model = utils.MLP(digits.input_shape, digits.num_classes)
    utils.load_checkpoint(tmp_path / "ddp_model.pt", ddp_model)
    same, history = one_process(16)
    gap = max((a - b).abs().max().item() for a, b in zip(same.parameters(), ddp_model.parameters(), strict=True))
    assert gap < 1e-5
    assert torch.allclose(torch.tensor(summary["history"]["step_loss"]), torch.tensor(history.step_loss), atol=1e-5)
    for ddp_epoch, epoch in zip(summary["history"]["epochs"], history.epochs, strict=True):  # combined over ranks
        assert ddp_epoch["train_loss"] == pytest.approx(epoch["train_loss"], abs=1e-5)
        assert ddp_epoch["train_acc"] == pytest.approx(epoch["train_acc"], abs=1e-9)
    smaller, _ = one_process(8)  # the comparison can fail: batch 8 on one process ends elsewhere
    assert max((a - b).abs().max().item() for a, b in zip(smaller.parameters(), ddp_model.parameters(), strict=True)) > 100 * gap + 1e-4
