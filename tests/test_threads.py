"""The series' CPU-thread policy (utils/threads.py): one thread unless the environment says otherwise."""

from __future__ import annotations

import pytest
import torch

import utils
from utils import threads


@pytest.fixture(autouse=True)
def _restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_setup_applies_one_thread(monkeypatch, capsys):
    monkeypatch.delenv("OPTIM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    torch.set_num_threads(2)
    utils.setup(seed=0, device="cpu")
    assert torch.get_num_threads() == threads.SERIES_THREADS == 1
    assert "CPU threads: 1" in capsys.readouterr().out


def test_optim_threads_overrides(monkeypatch):
    monkeypatch.setenv("OPTIM_THREADS", "2")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # OPTIM_THREADS wins over OMP_NUM_THREADS
    utils.setup(seed=0, device="cpu", verbose=False)
    assert torch.get_num_threads() == 2


def test_omp_num_threads_respected_without_optim_threads():
    assert threads.thread_count({"OMP_NUM_THREADS": "3"}) == 3
    assert threads.thread_count({}) == 1


def test_auto_means_torch_default():
    assert threads.thread_count({"OPTIM_THREADS": "auto"}) == threads.TORCH_DEFAULT


def test_apply_returns_threads_in_use():
    assert threads.apply_thread_policy({"OPTIM_THREADS": "2"}) == torch.get_num_threads() == 2
    assert threads.apply_thread_policy({}) == torch.get_num_threads() == 1


@pytest.mark.parametrize("bad", ["0", "-1", "two", "1.5"])
def test_bad_value_names_the_variable(bad):
    with pytest.raises(ValueError, match="OPTIM_THREADS"):
        threads.thread_count({"OPTIM_THREADS": bad})


def test_busy_processes_stop_also_on_error():
    """benchmarks/time_notebooks.py --busy N: its competing processes never outlive the block."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "time_notebooks.py"
    spec = importlib.util.spec_from_file_location("time_notebooks", path)
    time_notebooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(time_notebooks)
    with pytest.raises(RuntimeError), time_notebooks.busy_processes(2) as procs:
        assert len(procs) == 2 and all(p.poll() is None for p in procs)  # running
        raise RuntimeError("a notebook failed")
    assert all(p.poll() is not None for p in procs)  # stopped
