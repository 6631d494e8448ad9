"""Shared fixtures. Unit tests never touch the network: they use the bundled digits or IDX files they write."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from utils.data import load_dataset, write_fake_fashion_mnist  # noqa: E402
from utils.threads import apply_thread_policy, thread_count  # noqa: E402

# The tests' models are as small as the notebooks', so they get the series' thread policy too (one thread unless
# OPTIM_THREADS says otherwise): with torch's default of one thread per core, two xdist workers on two cores ran
# four threads and the fast suite took a third longer.
apply_thread_policy()


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: as many workers as the cores can give each its threads (OPTIM_THREADS=2 on 2 cores: one)."""
    return max(1, (os.cpu_count() or 1) // thread_count())


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's digits as Splits (train 1,294 / val 144 / test 359)."""
    return load_dataset("digits", verbose=False)


@pytest.fixture
def fashion_root(tmp_path):
    """A data folder holding a small FashionMNIST-format stand-in (600 train, 100 test images)."""
    write_fake_fashion_mnist(tmp_path, n_train=600, n_test=100, seed=1)
    return tmp_path


@pytest.fixture(scope="session")
def standin_root(tmp_path_factory):
    """A full-size (60,000 + 10,000) FashionMNIST-format stand-in, written once per session."""
    root = tmp_path_factory.mktemp("standin")
    write_fake_fashion_mnist(root)
    return root
